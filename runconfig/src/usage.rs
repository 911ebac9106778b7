//! A command-line mistake as one line: what clap found wrong, its
//! suggestion (`a similar argument exists: '--set'`) and the usage, so that
//! every refusal of `launch` reads `launch: error: ...` on one line.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// `e` (a parse error of clap) as one line, without the `error: ` prefix.
pub fn one_line(e: &clap::Error) -> String {
    if let Some(text) = bad_value(e) {
        return text;
    }
    let rendered = e.to_string();
    let mut parts: Vec<String> = Vec::new();
    let mut usage: Vec<&str> = Vec::new();
    for block in rendered.split("\n\n") {
        let lines: Vec<&str> = block.lines().map(str::trim).collect();
        match lines.first() {
            // The first tip is the suggestion (`a similar argument exists`).
            Some(l) if l.starts_with("tip: ") => parts.push(l.trim_start_matches("tip: ").into()),
            Some(l) if l.starts_with("Usage: ") => usage = lines,
            Some(l) if l.starts_with("For more information") => {}
            Some(_) if parts.is_empty() => {
                parts.push(lines.join(" ").trim_start_matches("error: ").into())
            }
            _ => {}
        }
    }
    match usage.as_slice() {
        [one] => parts.push(format!("usage: {}", one.trim_start_matches("Usage: "))),
        [] => {}
        _ => parts.push("see `launch --help`".into()),
    }
    parts.join("; ")
}

/// A value its parser refused: `--flag: why` (as the hand-written parsers
/// said it), or only `why` for a positional argument.
fn bad_value(e: &clap::Error) -> Option<String> {
    if e.kind() != ErrorKind::ValueValidation {
        return None;
    }
    let why = std::error::Error::source(e)?.to_string();
    match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) if arg.starts_with('-') => {
            let flag = arg.split([' ', '=']).next().unwrap_or(arg);
            Some(format!("{flag}: {why}"))
        }
        _ => Some(why),
    }
}
