//! Examples into token rows with their targets.
//!
//! * pretrain: BOS (if the model wants it) + text + EOS, every token a target;
//! * sft: the chat rendered by the template; only the tokens the assistant
//!   writes are targets. As in open-instruct, the spans of the other messages
//!   are found by rendering the chat incrementally: message i (not the
//!   assistant's) covers the text from `render(messages[..i])` to
//!   `render(messages[..=i], add_generation_prompt = next is assistant)`, so
//!   the assistant header is masked and the reply with its end-of-turn tokens
//!   is trained. A token is a target when its first byte lies outside every
//!   masked span;
//! * dpo: prompt + response, targets only on the response (the last message).

use super::examples::Example;
use super::template::ChatTemplate;
use super::tokenizer::Tokenizer;
use runconfig::{Objective, Overlong};
use serde_json::Value;

/// Prefix of an error that is about the setup, not the row: it stops the
/// build even with `data.skip_bad_rows`.
pub const FATAL: &str = "\u{0}fatal:";

/// Token ids and, for each, whether it is a loss target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tokens {
    pub ids: Vec<u32>,
    pub targets: Vec<bool>,
}

/// What became of an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded {
    One(Tokens),
    Pair(Tokens, Tokens),
    /// Longer than `max_seq_length` with `overlong: drop`.
    DroppedOverlong,
    /// No target token left (no assistant turn, or truncated away).
    DroppedNoTargets,
}

/// Everything needed to encode the examples of a run.
pub struct Encoder<'a> {
    pub tokenizer: Option<&'a Tokenizer>,
    pub template: Option<&'a ChatTemplate>,
    pub objective: Objective,
    pub max_len: usize,
    pub overlong: Overlong,
    /// Pretraining with packing: rows are cut later, never truncated here.
    pub stream: bool,
}

impl Encoder<'_> {
    /// Encodes one example; the error says what is wrong with it.
    pub fn encode(&self, ex: Example) -> Result<Encoded, String> {
        let out = match ex {
            Example::Tokens { ids, targets } => self.fit(Tokens { ids, targets }),
            Example::Text(text) => {
                let tok = self.tokenizer.ok_or(
                    "the row has no `input_ids` list, and text needs a tokenizer (set model.path or model.tokenizer)",
                )?;
                let mut ids = tok.with_bos(tok.encode(&text).map_err(|e| e.to_string())?);
                let eos = tok.eos_id().map_err(|e| format!("{FATAL}{e}"))?;
                if ids
                    .iter()
                    .all(|&t| Some(t) == tok.bos.as_ref().map(|b| b.1))
                {
                    return Err("the text is empty".into());
                }
                if ids.last() != Some(&eos) {
                    ids.push(eos);
                }
                let targets = vec![true; ids.len()];
                self.fit(Tokens { ids, targets })
            }
            Example::Chat(messages) => self.fit(self.chat(&messages, false)?),
            Example::Pair { chosen, rejected } => {
                let c = self.fit(self.chat(&chosen, true)?);
                let r = self.fit(self.chat(&rejected, true)?);
                match (c, r) {
                    (Encoded::One(c), Encoded::One(r)) => Encoded::Pair(c, r),
                    (Encoded::One(_), other) | (other, _) => other,
                }
            }
        };
        Ok(out)
    }

    fn tokenizer(&self) -> Result<&Tokenizer, String> {
        self.tokenizer
            .ok_or_else(|| format!("{FATAL}text rows need a tokenizer: set model.path (a folder with tokenizer.json) or model.tokenizer"))
    }

    /// Applies the length policy, then drops chat rows without targets.
    fn fit(&self, mut t: Tokens) -> Encoded {
        if t.ids.len() > self.max_len && !self.stream {
            match self.overlong {
                Overlong::Drop => return Encoded::DroppedOverlong,
                Overlong::Truncate => {
                    t.ids.truncate(self.max_len);
                    t.targets.truncate(self.max_len);
                }
            }
        }
        if self.objective != Objective::Pretrain && !t.targets.iter().skip(1).any(|&x| x) {
            return Encoded::DroppedNoTargets;
        }
        Encoded::One(t)
    }

    /// Renders and tokenizes a chat; targets on the assistant's turns, or on
    /// the final response only (`response_only`, for preference pairs).
    pub fn chat(&self, messages: &[Value], response_only: bool) -> Result<Tokens, String> {
        let tok = self.tokenizer()?;
        let template = self
            .template
            .ok_or_else(|| format!("{FATAL}the tokenizer has no chat_template: set data.chat_template to `tulu` or to the path of a Jinja file"))?;
        let render = |n: usize, gen: bool| -> Result<String, String> {
            template
                .render(&messages[..n], gen)
                .map_err(|e| format!("{e:#}"))
        };
        let full = render(messages.len(), false)?;
        if full.trim().is_empty() {
            return Err("the chat is empty after templating".into());
        }
        let mut masked: Vec<(usize, usize)> = Vec::new();
        let prefix = |n: usize, gen: bool| -> Result<usize, String> {
            if n == 0 && !gen {
                return Ok(0);
            }
            let p = render(n, gen)?;
            if !full.starts_with(&p) {
                return Err(format!(
                    "the chat template is not incremental: the rendering of the first {n} messages is not the start of the whole chat's, so the assistant's tokens cannot be found"
                ));
            }
            Ok(p.len())
        };
        let role = |i: usize| messages[i].get("role").and_then(Value::as_str);
        if response_only {
            masked.push((0, prefix(messages.len() - 1, true)?));
        } else {
            for i in 0..messages.len() {
                if role(i) == Some("assistant") {
                    continue;
                }
                let next_is_assistant = i + 1 < messages.len() && role(i + 1) == Some("assistant");
                masked.push((prefix(i, false)?, prefix(i + 1, next_is_assistant)?));
            }
        }
        let (ids, offsets) = tok.encode_with_offsets(&full).map_err(|e| e.to_string())?;
        let mut targets: Vec<bool> = offsets
            .iter()
            .map(|&(start, _)| !masked.iter().any(|&(a, b)| start >= a && start < b))
            .collect();
        let mut ids = ids;
        if tok.needs_bos(&ids) {
            ids = tok.with_bos(ids);
            targets.insert(0, false);
        }
        if let Some((_, eos)) = &tok.eos {
            if tok.add_eos && ids.last() != Some(eos) {
                let last = targets.last().copied().unwrap_or(false);
                ids.push(*eos);
                targets.push(last);
            }
        }
        Ok(Tokens { ids, targets })
    }
}
