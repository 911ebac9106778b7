//! The model's tokenizer: `tokenizer.json` through the `tokenizers` crate, and
//! the special tokens and BOS/EOS policy of `tokenizer_config.json`.
//!
//! Text is always encoded without the post-processor's special tokens; the
//! BOS token is then put in front by [`Tokenizer::with_bos`] when the model
//! wants one (`add_bos_token` in tokenizer_config.json, or, when that key is
//! absent, when the post-processor of tokenizer.json would add it) and the
//! row does not already start with it (a chat template may render it).

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Token ids and each token's byte range in the encoded text.
pub type IdsAndOffsets = (Vec<u32>, Vec<(usize, usize)>);

/// A loaded tokenizer with its special tokens.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// The BOS token and its id, if the tokenizer has one.
    pub bos: Option<(String, u32)>,
    /// The EOS token and its id, if the tokenizer has one.
    pub eos: Option<(String, u32)>,
    /// Padding id: the pad token, else EOS, else 0.
    pub pad_id: u32,
    /// Put BOS in front of every row.
    pub add_bos: bool,
    /// Put EOS at the end of every chat row (pretraining text always gets one).
    pub add_eos: bool,
    /// `chat_template` of tokenizer_config.json, if any.
    pub chat_template: Option<String>,
    /// `bos_token`, `eos_token`, `unk_token`, `pad_token`, ... as strings: the
    /// variables transformers hands to chat templates.
    pub special_tokens: Map<String, Value>,
    /// The files read, for the cache key.
    pub files: Vec<PathBuf>,
}

/// A token string of tokenizer_config.json: a plain string or an AddedToken
/// object `{"content": ...}`.
fn token_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content")?.as_str().map(str::to_string),
        _ => None,
    }
}

/// The keys of the special tokens taken from the tokenizer config.
const SPECIAL_KEYS: [&str; 7] = [
    "bos_token",
    "eos_token",
    "unk_token",
    "pad_token",
    "sep_token",
    "cls_token",
    "mask_token",
];

/// The folder and the tokenizer.json of `path` (a folder or the file itself);
/// an error when there is no tokenizer.json.
fn locate(path: &Path) -> Result<(PathBuf, PathBuf)> {
    let (dir, json) = if path.is_dir() {
        (path.to_path_buf(), path.join("tokenizer.json"))
    } else {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        (dir, path.to_path_buf())
    };
    if !json.is_file() {
        bail!(
            "no tokenizer at {}: the model folder (or model.tokenizer) must hold a tokenizer.json",
            json.display()
        );
    }
    Ok((dir, json))
}

/// The JSON object of `dir/name`, or an empty one when the file is absent;
/// a file read is added to `files`.
fn read_json(dir: &Path, name: &str, files: &mut Vec<PathBuf>) -> Result<Map<String, Value>> {
    let p = dir.join(name);
    if !p.is_file() {
        return Ok(Map::new());
    }
    files.push(p.clone());
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => bail!("{}: expected a JSON object", p.display()),
        Err(e) => bail!("{}: not valid JSON: {e}", p.display()),
    }
}

/// The special tokens as strings: tokenizer_config.json first, then
/// special_tokens_map.json.
fn special_tokens(config: &Map<String, Value>, map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for key in SPECIAL_KEYS {
        if let Some(s) = config.get(key).or(map.get(key)).and_then(token_string) {
            out.insert(key.into(), Value::String(s));
        }
    }
    out
}

/// The special token `key` and its id; an error when it is not in the vocabulary.
fn token_and_id(
    inner: &tokenizers::Tokenizer,
    special: &Map<String, Value>,
    key: &str,
) -> Result<Option<(String, u32)>> {
    let Some(s) = special.get(key).and_then(Value::as_str) else {
        return Ok(None);
    };
    let id = inner.token_to_id(s).with_context(|| {
        format!("the {key} {s:?} of the tokenizer config is not in the vocabulary")
    })?;
    Ok(Some((s.to_string(), id)))
}

/// Whether the post-processor of tokenizer.json adds BOS and EOS by itself.
fn post_processor_adds(
    inner: &tokenizers::Tokenizer,
    bos: Option<&(String, u32)>,
    eos: Option<&(String, u32)>,
) -> (bool, bool) {
    let probe = |specials: bool| {
        inner
            .encode("a", specials)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default()
    };
    let (plain, full) = (probe(false), probe(true));
    let post_bos = bos.is_some_and(|(_, id)| full.first() == Some(id) && plain.first() != Some(id));
    let post_eos = eos.is_some_and(|(_, id)| full.last() == Some(id) && plain.last() != Some(id));
    (post_bos, post_eos)
}

/// The chat template: `chat_template` of the config (a string, or the
/// "default" one of a list), else chat_template.jinja of `dir` (added to `files`).
fn chat_template(
    config: &Map<String, Value>,
    dir: &Path,
    files: &mut Vec<PathBuf>,
) -> Result<Option<String>> {
    let template = match config.get("chat_template") {
        Some(Value::String(s)) => Some(s.clone()),
        // A list of named templates: take the "default" one.
        Some(Value::Array(list)) => list
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|t| t.get("template")?.as_str().map(str::to_string)),
        _ => None,
    };
    let jinja = dir.join("chat_template.jinja");
    if template.is_none() && jinja.is_file() {
        let text = std::fs::read_to_string(&jinja)?;
        files.push(jinja);
        return Ok(Some(text));
    }
    Ok(template)
}

impl Tokenizer {
    /// Loads `path`: a folder holding tokenizer.json (and optionally
    /// tokenizer_config.json, special_tokens_map.json, chat_template.jinja),
    /// or a tokenizer.json file.
    pub fn load(path: &Path) -> Result<Tokenizer> {
        let (dir, json) = locate(path)?;
        let inner = tokenizers::Tokenizer::from_file(&json)
            .map_err(|e| anyhow!("cannot load tokenizer {}: {e}", json.display()))?;
        let mut files = vec![json.clone()];
        let config = read_json(&dir, "tokenizer_config.json", &mut files)?;
        let map = read_json(&dir, "special_tokens_map.json", &mut files)?;
        let special_tokens = special_tokens(&config, &map);
        let id_of = |key: &str| token_and_id(&inner, &special_tokens, key);
        let (bos, eos, pad) = (
            id_of("bos_token")?,
            id_of("eos_token")?,
            id_of("pad_token")?,
        );
        let (post_bos, post_eos) = post_processor_adds(&inner, bos.as_ref(), eos.as_ref());
        let flag = |key: &str| config.get(key).and_then(Value::as_bool);
        let chat_template = chat_template(&config, &dir, &mut files)?;
        Ok(Tokenizer {
            pad_id: pad
                .as_ref()
                .or(eos.as_ref())
                .map(|(_, id)| *id)
                .unwrap_or(0),
            add_bos: bos.is_some() && flag("add_bos_token").unwrap_or(post_bos),
            add_eos: eos.is_some() && flag("add_eos_token").unwrap_or(post_eos),
            bos,
            eos,
            chat_template,
            special_tokens,
            files,
            inner,
        })
    }

    /// Token ids of `text`, without special tokens around it (special tokens
    /// written in the text are still recognised).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.encode_with_offsets(text)?.0)
    }

    /// Token ids of `text` and each token's byte range in `text`.
    pub fn encode_with_offsets(&self, text: &str) -> Result<IdsAndOffsets> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| anyhow!("tokenizer failed: {e}"))?;
        Ok((enc.get_ids().to_vec(), enc.get_offsets().to_vec()))
    }

    /// Text of `ids` (special tokens kept).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| anyhow!("tokenizer failed: {e}"))
    }

    /// The id of a token string.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Number of leading tokens to insert: 1 when BOS goes in front of `ids`.
    pub fn needs_bos(&self, ids: &[u32]) -> bool {
        match &self.bos {
            Some((_, id)) if self.add_bos => ids.first() != Some(id),
            _ => false,
        }
    }

    /// `ids` with BOS in front when the model wants one and it is missing.
    pub fn with_bos(&self, ids: Vec<u32>) -> Vec<u32> {
        match &self.bos {
            Some((_, id)) if self.needs_bos(&ids) => std::iter::once(*id).chain(ids).collect(),
            _ => ids,
        }
    }

    /// The EOS id, or an error for tokenizers without one.
    pub fn eos_id(&self) -> Result<u32> {
        self.eos.as_ref().map(|(_, id)| *id).context(
            "the tokenizer has no eos_token (set it in tokenizer_config.json): pretraining text ends with EOS",
        )
    }
}
