//! Configuration errors a user can act on: where, which key, what is right.

use crate::hints::join;
use std::fmt;

/// A configuration mistake, already phrased for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(String);

impl ConfigError {
    /// Wraps a finished message.
    pub fn new(message: String) -> Self {
        Self(message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Turns a serde_yaml error on `text` into `file:line:col: key: what`, with
/// a hint or the closest valid key for an unknown one; a tab used for
/// indentation is named as such.
pub(crate) fn from_yaml(e: &serde_yaml::Error, text: &str, origin: &str) -> ConfigError {
    let line = e.location().map(|l| l.line());
    if let Some(tab) = tab_line(text).filter(|t| line.is_none_or(|l| *t <= l)) {
        return ConfigError::new(format!("{origin}:{tab}: a tab; YAML indents with spaces"));
    }
    let at = match e.location() {
        Some(l) => format!("{origin}:{}:{}", l.line(), l.column()),
        None => origin.to_string(),
    };
    ConfigError::new(format!("{at}: {}", explain(&e.to_string())))
}

/// The first line (from 1) indented with a tab.
fn tab_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let indent = &l[..l.len() - l.trim_start().len()];
            indent.contains('\t') && !l.trim().is_empty()
        })
        .map(|i| i + 1)
}

/// Rewrites serde's wording ("unknown field `x`, expected one of ...") into
/// ours, and drops the trailing " at line N column M" (we print it first).
pub(crate) fn explain(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    let (path, rest) = split_path(message);
    if let Some(after) = rest.strip_prefix("unknown field `") {
        let (key, tail) = after.split_once('`').unwrap_or((after, ""));
        let candidates = backticked(tail);
        let full = join(path, key);
        if let Some(hint) = crate::hints::for_unknown(path, key) {
            return format!("unknown key `{full}`: {hint}");
        }
        return match closest(key, &candidates) {
            Some(best) => format!(
                "unknown key `{full}`; did you mean `{}`?",
                join(path, &best)
            ),
            None if candidates.is_empty() => format!("unknown key `{full}`"),
            None => format!(
                "unknown key `{full}`; valid keys here: {}",
                candidates.join(", ")
            ),
        };
    }
    if let Some(after) = rest.strip_prefix("unknown variant `") {
        let (word, tail) = after.split_once('`').unwrap_or((after, ""));
        let candidates = backticked(tail);
        return format!(
            "`{path}`: `{word}` is not one of: {}",
            candidates.join(", ")
        );
    }
    if let Some(field) = rest.strip_prefix("missing field `") {
        let field = field.trim_end_matches('`');
        return format!("missing required key `{}`", join(path, field));
    }
    let rest = friendly_types(rest);
    if path.is_empty() {
        rest
    } else {
        format!("`{path}`: {rest}")
    }
}

/// "expected f64" means little to a YAML author; name the kind of value.
fn friendly_types(message: &str) -> String {
    [
        ("expected f64", "expected a number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
    ]
    .iter()
    .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}

/// serde_yaml prefixes errors with the dotted path of the value ("train: ...").
fn split_path(message: &str) -> (&str, &str) {
    match message.split_once(": ") {
        Some((p, r)) if !p.contains(' ') && !p.is_empty() => (p, r),
        _ => ("", message),
    }
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The candidate nearest to `word` by edit distance, if any is close.
pub(crate) fn closest(word: &str, candidates: &[String]) -> Option<String> {
    let (best, score) = candidates
        .iter()
        .map(|c| (c, strsim::jaro_winkler(word, c)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (score > 0.7).then(|| best.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_suggests_closest() {
        let m = explain("train: unknown field `micro_batch`, expected one of `micro_batch_size`, `epochs` at line 3 column 3");
        assert_eq!(
            m,
            "unknown key `train.micro_batch`; did you mean `train.micro_batch_size`?"
        );
    }

    #[test]
    fn a_tab_in_the_indentation_is_named() {
        let text = "run_name: x\ntrain:\n\tmax_steps: 2\n";
        let e = serde_yaml::from_str::<serde_yaml::Value>(text).unwrap_err();
        let m = from_yaml(&e, text, "c.yaml").to_string();
        assert_eq!(m, "c.yaml:3: a tab; YAML indents with spaces");
    }
}
