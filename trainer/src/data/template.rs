//! Chat templates: the Jinja templates of Hugging Face tokenizers, rendered
//! with minijinja in the environment transformers' `apply_chat_template`
//! builds (`trim_blocks`, `lstrip_blocks`, loop controls, `raise_exception`,
//! `strftime_now`, a Python-style `tojson`, Python string and dict methods,
//! and the special tokens as variables), plus open-instruct's named
//! templates (`tulu`, `zephyr`, ...: see [`super::named`]).

use super::pyjson::Dumps;
use super::tokenizer::Tokenizer;
use anyhow::{anyhow, bail, Context, Result};
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, Value as JValue};
use runconfig::TemplateSource;
use serde_json::{Map, Value};

/// open-instruct's tulu template: `<|user|>\n...\n<|assistant|>\n...eos\n`.
pub const TULU: &str = include_str!("templates/tulu.jinja");

/// A compiled chat template and the variables it sees besides the messages.
pub struct ChatTemplate {
    env: Environment<'static>,
    /// The template's source text (part of the cache key).
    pub source: String,
    vars: Map<String, Value>,
}

impl ChatTemplate {
    /// Compiles `source`; `special_tokens` (`bos_token`, `eos_token`, ...)
    /// become template variables, as in transformers.
    pub fn new(source: &str, special_tokens: &Map<String, Value>) -> Result<ChatTemplate> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| anyhow!("{e}"))?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_filter("tojson", tojson);
        env.add_template_owned("chat_template", without_generation_tags(source))
            .map_err(|e| anyhow!("the chat template does not compile: {e}"))?;
        Ok(ChatTemplate {
            env,
            source: source.to_string(),
            vars: special_tokens.clone(),
        })
    }

    /// The template `data.chat_template` names: one of open-instruct's
    /// (`tulu`, `zephyr`, ...), `model` (default: the tokenizer's own) or the
    /// path of a Jinja file.
    pub fn from_setting(
        setting: Option<&TemplateSource>,
        tokenizer: &Tokenizer,
    ) -> Result<ChatTemplate> {
        let source = match setting.unwrap_or(&TemplateSource::Model) {
            TemplateSource::Named(name) => super::named::source(name)
                .with_context(|| format!("data.chat_template: no built-in template {name}"))?
                .to_string(),
            TemplateSource::Model => tokenizer.chat_template.clone().context(
                "the tokenizer_config.json has no chat_template: set data.chat_template to a name of open-instruct's (e.g. `tulu`) or to the path of a Jinja file",
            )?,
            TemplateSource::File(path) => std::fs::read_to_string(path).with_context(|| {
                format!("data.chat_template: cannot read {} (expected {})", path.display(), runconfig::template_choices())
            })?,
        };
        Self::new(&source, &tokenizer.special_tokens)
    }

    /// Renders `messages` (objects with `role` and `content`, and whatever
    /// else the template reads); `add_generation_prompt` appends the header of
    /// the assistant's next turn.
    pub fn render(&self, messages: &[Value], add_generation_prompt: bool) -> Result<String> {
        self.render_with(messages, add_generation_prompt, &Map::new())
    }

    /// Like [`ChatTemplate::render`] with extra variables (e.g. `date_string`).
    pub fn render_with(
        &self,
        messages: &[Value],
        add_generation_prompt: bool,
        extra: &Map<String, Value>,
    ) -> Result<String> {
        let mut ctx = self.vars.clone();
        ctx.insert("messages".into(), Value::Array(messages.to_vec()));
        ctx.insert("add_generation_prompt".into(), add_generation_prompt.into());
        ctx.insert("tools".into(), Value::Null);
        ctx.insert("documents".into(), Value::Null);
        for (k, v) in extra {
            ctx.insert(k.clone(), v.clone());
        }
        let template = self
            .env
            .get_template("chat_template")
            .map_err(|e| anyhow!("{e}"))?;
        template
            .render(JValue::from(minijinja::value::Serde(&ctx)))
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidOperation => anyhow!("{}", e.detail().unwrap_or("error")),
                _ => anyhow!("chat template: {e}"),
            })
    }
}

/// `{% generation %}` ... `{% endgeneration %}` (transformers' assistant-mask
/// extension) become plain `if true` blocks: same output, same whitespace
/// control.
fn without_generation_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(i) = rest.find("{%") {
        out.push_str(&rest[..i]);
        let tag = &rest[i..];
        let Some(end) = tag.find("%}") else {
            out.push_str(tag);
            return out;
        };
        let inner = tag[2..end].trim_matches('-').trim();
        let (l, r) = (
            if tag[2..].starts_with('-') { "-" } else { "" },
            if tag[..end].ends_with('-') { "-" } else { "" },
        );
        match inner {
            "generation" => out.push_str(&format!("{{%{l} if true {r}%}}")),
            "endgeneration" => out.push_str(&format!("{{%{l} endif {r}%}}")),
            _ => out.push_str(&tag[..end + 2]),
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    out
}

fn raise_exception(message: String) -> Result<JValue, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

/// The local time formatted by C's strftime (as Python's `datetime.strftime`).
fn strftime_now(format: String) -> Result<String, Error> {
    let fmt = std::ffi::CString::new(format)
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, "NUL in strftime format"))?;
    let mut buf = vec![0u8; 256];
    // SAFETY: time/localtime_r/strftime write only into the buffers given.
    let n = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm)
    };
    buf.truncate(n);
    String::from_utf8(buf).map_err(|_| Error::new(ErrorKind::InvalidOperation, "strftime"))
}

/// `tojson` as transformers defines it: Python's `json.dumps` with
/// `ensure_ascii=False` and the `indent`, `separators`, `sort_keys` options.
fn tojson(value: JValue, kwargs: Kwargs) -> Result<String, Error> {
    let bad = |e: String| Error::new(ErrorKind::InvalidOperation, e);
    let json: Value = serde_json::to_value(&value).map_err(|e| bad(e.to_string()))?;
    let separators: Option<Vec<String>> = kwargs.get("separators")?;
    let separators = match separators {
        Some(s) if s.len() == 2 => Some((s[0].clone(), s[1].clone())),
        Some(_) => return Err(bad("tojson: separators must hold two strings".into())),
        None => None,
    };
    let dumps = Dumps {
        indent: kwargs.get("indent")?,
        separators,
        sort_keys: kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false),
        ensure_ascii: kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    Ok(dumps.dumps(&json))
}

/// Checks a template renders a one-turn chat (used to fail early, before
/// tokenizing a dataset).
pub fn check(template: &ChatTemplate) -> Result<()> {
    let probe = [
        serde_json::json!({"role": "user", "content": "Hi"}),
        serde_json::json!({"role": "assistant", "content": "Hello"}),
    ];
    match template.render(&probe, false) {
        Ok(s) if !s.is_empty() => Ok(()),
        Ok(_) => bail!("the chat template renders a chat as empty text"),
        Err(e) => Err(e.context("the chat template cannot render a user/assistant chat")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tulu_renders_turns_and_generation_tags_vanish() {
        let mut sp = Map::new();
        sp.insert("eos_token".into(), json!("</s>"));
        let t = ChatTemplate::new(TULU, &sp).unwrap();
        let m = [
            json!({"role": "user", "content": "1+1?"}),
            json!({"role": "assistant", "content": "2"}),
        ];
        assert_eq!(
            t.render(&m, false).unwrap(),
            "<|user|>\n1+1?\n<|assistant|>\n2</s>"
        );
        assert_eq!(
            without_generation_tags("a{%- generation %}b{% endgeneration -%} c{{ x }}"),
            "a{%- if true %}b{% endif -%} c{{ x }}"
        );
    }
}
