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

/// Bytes of text allowed per token of `max_seq_length` before tokenising:
/// 8 times the tokens a sample keeps, at up to 16 bytes each (English runs
/// at about 4 bytes a token, so this is about 32 times what is kept).
pub const ROW_BYTES_PER_TOKEN: usize = 8 * 16;
/// The byte limit is never below this (a short max_seq_length still reads
/// ordinary rows whole).
pub const MIN_ROW_BYTES: usize = 64 * 1024;

/// The most bytes of text (a row's text, or a chat as rendered) that are
/// tokenised at once for `max_seq_length`: a longer one is cut to it
/// (`overlong: truncate`) or dropped (`overlong: drop`) before tokenising,
/// so that a huge row costs memory in proportion to what is kept.
pub fn max_row_bytes(max_seq_length: usize) -> usize {
    max_seq_length
        .saturating_mul(ROW_BYTES_PER_TOKEN)
        .max(MIN_ROW_BYTES)
}

/// The end of the longest start of `text` of at most `max` bytes, on a
/// character boundary (after the last whitespace in it, when there is one,
/// so that a word is not cut in two).
fn cut_at(text: &str, max: usize) -> usize {
    if text.len() <= max {
        return text.len();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match text[..end].rfind(char::is_whitespace) {
        Some(ws) if ws > 0 => ws,
        _ => end,
    }
}

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
    /// Pretraining with packing: rows are cut later, never truncated here
    /// (a text over [`Encoder::max_bytes`] is tokenised piece by piece).
    pub stream: bool,
    /// See [`max_row_bytes`].
    pub max_bytes: usize,
    /// Rows cut to `max_bytes` before tokenising (`overlong: truncate`).
    pub cut_by_size: std::sync::atomic::AtomicUsize,
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
                let Some(ids) = self.text_ids(tok, &text)? else {
                    return Ok(Encoded::DroppedOverlong);
                };
                let mut ids = tok.with_bos(ids);
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
            Example::Chat(messages) => self.fit_chat(self.chat(&messages, false)?),
            Example::Pair { chosen, rejected } => {
                let c = self.fit_chat(self.chat(&chosen, true)?);
                let r = self.fit_chat(self.chat(&rejected, true)?);
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

    /// The ids of a text row: tokenised whole when within `max_bytes`;
    /// else, when streaming, piece by piece; else as `overlong` says (cut,
    /// or `None`: dropped).
    fn text_ids(&self, tok: &Tokenizer, text: &str) -> Result<Option<Vec<u32>>, String> {
        let encode = |t: &str| tok.encode(t).map_err(|e| e.to_string());
        if !self.stream {
            return self.within_limit(text).map(encode).transpose();
        }
        let (mut ids, mut rest) = (Vec::new(), text);
        while !rest.is_empty() {
            let end = match cut_at(rest, self.max_bytes) {
                0 => rest.len(),
                end => end,
            };
            ids.extend(encode(&rest[..end])?);
            rest = &rest[end..];
        }
        Ok(Some(ids))
    }

    /// `text` whole when within `max_bytes`, else as `overlong` says: its
    /// start (counted in `cut_by_size`) or `None` (dropped).
    fn within_limit<'t>(&self, text: &'t str) -> Option<&'t str> {
        if text.len() <= self.max_bytes {
            return Some(text);
        }
        match self.overlong {
            Overlong::Drop => None,
            Overlong::Truncate => {
                let counter = &self.cut_by_size;
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(&text[..cut_at(text, self.max_bytes)])
            }
        }
    }

    /// [`Self::fit`] of a chat, `None` (over the byte limit) being dropped.
    fn fit_chat(&self, t: Option<Tokens>) -> Encoded {
        t.map_or(Encoded::DroppedOverlong, |t| self.fit(t))
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
    /// A rendering over `max_bytes` is cut or dropped (`None`) before it is
    /// tokenised, as `overlong` says.
    pub fn chat(&self, messages: &[Value], response_only: bool) -> Result<Option<Tokens>, String> {
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
        let Some(kept) = self.within_limit(&full) else {
            return Ok(None);
        };
        let (ids, offsets) = tok.encode_with_offsets(kept).map_err(|e| e.to_string())?;
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
        Ok(Some(Tokens { ids, targets }))
    }
}
