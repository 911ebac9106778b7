//! The tokenizer and generation files of an export, and the chat template
//! the run trained with, written where transformers and our own loader both
//! find it (`chat_template.jinja` and tokenizer_config.json's
//! `chat_template`, kept equal since transformers prefers the first and
//! [`Tokenizer::load`] the second).

use crate::data::Tokenizer;
use anyhow::{Context, Result};
use runconfig::{Config, TemplateSource};
use serde_json::Value;
use std::path::{Path, PathBuf};

const JINJA: &str = "chat_template.jinja";
const TOKENIZER_CONFIG: &str = "tokenizer_config.json";
const GENERATION: &str = "generation_config.json";

/// A file of a tokenizer (never weights): `tokenizer*`, `vocab.*`, `*.model`,
/// merges, added and special tokens, chat templates.
fn is_tokenizer_file(name: &str) -> bool {
    let weights = [
        ".safetensors",
        ".bin",
        ".pt",
        ".pth",
        ".ckpt",
        ".gguf",
        ".h5",
    ];
    if weights.iter().any(|w| name.ends_with(w)) {
        return false;
    }
    name.starts_with("tokenizer")
        || name.starts_with("vocab.")
        || name.ends_with(".model")
        || matches!(
            name,
            "special_tokens_map.json"
                | "merges.txt"
                | "added_tokens.json"
                | JINJA
                | "chat_template.json"
        )
}

/// The names of the plain files in `dir` that `keep` accepts, sorted.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| keep(n))
        .collect();
    names.sort();
    names
}

/// Copies into `dir` every tokenizer file of the first of `folders` that has
/// one (one tokenizer, never a mix of two folders) and the first
/// generation_config.json found.
pub fn copy(folders: &[PathBuf], dir: &Path) -> Result<()> {
    let tokenizer = folders
        .iter()
        .map(|f| (f, files_in(f, is_tokenizer_file)))
        .find(|(_, names)| !names.is_empty());
    let generation = folders.iter().find(|f| f.join(GENERATION).is_file());
    let mut picked: Vec<(&PathBuf, String)> = Vec::new();
    if let Some((folder, names)) = tokenizer {
        picked.extend(names.into_iter().map(|n| (folder, n)));
    }
    if let Some(folder) = generation {
        picked.push((folder, GENERATION.to_string()));
    }
    for (folder, name) in picked {
        let src = folder.join(&name);
        std::fs::copy(&src, dir.join(&name))
            .with_context(|| format!("copying {} into {}", src.display(), dir.display()))?;
    }
    Ok(())
}

/// The chat template the run trained with: the named one's, the file's, or (for
/// `model`) the one the copied tokenizer files in `dir` hold. A template
/// file that is gone (a checkpoint exported later) is warned about and the
/// tokenizer's own is kept.
fn run_template(config: &Config, dir: &Path) -> Result<Option<String>> {
    match config.data.chat_template.as_ref() {
        Some(TemplateSource::Named(name)) => {
            return Ok(crate::data::named::source(name).map(str::to_string))
        }
        Some(TemplateSource::File(path)) => match std::fs::read_to_string(path) {
            Ok(text) => return Ok(Some(text)),
            Err(e) => eprintln!(
                "warning: data.chat_template: cannot read {} ({e}); the export keeps the tokenizer's own chat template",
                path.display()
            ),
        },
        Some(TemplateSource::Model) | None => {}
    }
    if !dir.join("tokenizer.json").is_file() {
        return Ok(None);
    }
    Ok(Tokenizer::load(dir)
        .context("reading the exported tokenizer")?
        .chat_template)
}

/// Writes the run's chat template into the export `dir`: as
/// chat_template.jinja, and as `chat_template` of tokenizer_config.json when
/// there is one (the `default` entry of a list of named templates, whose
/// other entries then stay usable: chat_template.jinja is only written
/// there when the tokenizer had one).
pub fn write_template(config: &Config, dir: &Path) -> Result<()> {
    let Some(text) = run_template(config, dir)? else {
        return Ok(());
    };
    let jinja = dir.join(JINJA);
    let mut named = false;
    let path = dir.join(TOKENIZER_CONFIG);
    if path.is_file() {
        let raw = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut json: Value = serde_json::from_str(&raw)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        if let Some(m) = json.as_object_mut() {
            match m.get_mut("chat_template") {
                Some(Value::Array(list)) => {
                    named = true;
                    list.iter_mut()
                        .filter(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                        .for_each(|t| t["template"] = text.clone().into());
                }
                _ => {
                    m.insert("chat_template".into(), text.clone().into());
                }
            }
        }
        std::fs::write(&path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !named || jinja.is_file() {
        std::fs::write(&jinja, &text).with_context(|| format!("writing {}", jinja.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_tokenizer_file;

    #[test]
    fn tokenizer_files_by_pattern_and_never_weights() {
        for name in [
            "tokenizer.json",
            "tokenizer_config.json",
            "tokenizer.model",
            "vocab.txt",
            "merges.txt",
            "spiece.model",
            "added_tokens.json",
            "chat_template.jinja",
        ] {
            assert!(is_tokenizer_file(name), "{name}");
        }
        for name in [
            "model.safetensors",
            "config.json",
            "pytorch_model.bin",
            "README.md",
        ] {
            assert!(!is_tokenizer_file(name), "{name}");
        }
    }
}
