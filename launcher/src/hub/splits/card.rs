//! The `configs:` section of a dataset card's YAML header, as the Hub's
//! dataset viewer reads it:
//!
//! ```yaml
//! configs:
//! - config_name: default
//!   data_files:
//!   - split: train
//!     path: data/train-*
//! ```
//!
//! `data_files` may also be one pattern or a list of patterns (then they are
//! the `train` split), and `path` a list of patterns.

use super::defaults::unknown_split;
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

/// One configuration of the card.
#[derive(Debug, Deserialize)]
pub struct CardConfig {
    pub config_name: String,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    data_files: Option<DataFiles>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DataFiles {
    One(String),
    Splits(Vec<SplitFiles>),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct SplitFiles {
    split: String,
    path: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Patterns {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    configs: Vec<CardConfig>,
}

/// The configurations of the card `readme` (none when it has no header or
/// no `configs:`).
pub fn configs(readme: &str) -> Result<Vec<CardConfig>, String> {
    let Some(rest) = readme
        .strip_prefix("---\n")
        .or_else(|| readme.strip_prefix("---\r\n"))
    else {
        return Ok(Vec::new());
    };
    let end = rest.find("\n---").unwrap_or(rest.len());
    let header: Header = serde_yaml::from_str(&rest[..end])
        .map_err(|e| format!("its card (README.md) has a YAML header that does not parse: {e}"))?;
    Ok(header.configs)
}

/// The configuration `name`, else the default one.
fn choose<'a>(configs: &'a [CardConfig], name: Option<&str>) -> Result<&'a CardConfig, String> {
    let names = || {
        let all: Vec<&str> = configs.iter().map(|c| c.config_name.as_str()).collect();
        all.join(", ")
    };
    let found = match name {
        Some(n) => configs.iter().find(|c| c.config_name == n),
        None => configs
            .iter()
            .find(|c| c.default)
            .or_else(|| configs.iter().find(|c| c.config_name == "default"))
            .or_else(|| (configs.len() == 1).then(|| &configs[0])),
    };
    found.ok_or_else(|| match name {
        Some(n) => format!(
            "its card has no configuration `{n}`; it has: {} (set `name:`)",
            names()
        ),
        None => format!(
            "its card has several configurations ({}): set `name:` to one",
            names()
        ),
    })
}

/// The patterns of `split` in configuration `c`.
fn patterns(c: &CardConfig, split: &str) -> Result<Vec<String>, String> {
    let of = |p: &Patterns| match p {
        Patterns::One(s) => vec![s.clone()],
        Patterns::Many(v) => v.clone(),
    };
    let whole = |v: Vec<String>| match split {
        "train" => Ok(v),
        _ => Err(unknown_split(split, ["train"].into_iter())),
    };
    match &c.data_files {
        None => Err(format!(
            "its card's configuration `{}` lists no data_files",
            c.config_name
        )),
        Some(DataFiles::One(p)) => whole(vec![p.clone()]),
        Some(DataFiles::Many(v)) => whole(v.clone()),
        Some(DataFiles::Splits(s)) => match s.iter().find(|f| f.split == split) {
            Some(f) => Ok(of(&f.path)),
            None => Err(unknown_split(split, s.iter().map(|f| f.split.as_str()))),
        },
    }
}

fn matcher(pattern: &str) -> Result<GlobMatcher, String> {
    let glob = GlobBuilder::new(pattern).literal_separator(true).build();
    glob.map(|g| g.compile_matcher())
        .map_err(|e| format!("its card's data_files pattern {pattern:?} is not a glob: {e}"))
}

/// The files of `split` of configuration `name` (or the default) among `data`.
pub fn files(
    configs: &[CardConfig],
    name: Option<&str>,
    split: &str,
    data: &[&String],
) -> Result<Vec<String>, String> {
    let c = choose(configs, name)?;
    let matchers = patterns(c, split)?
        .iter()
        .map(|p| matcher(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out: Vec<String> = data
        .iter()
        .filter(|f| matchers.iter().any(|m| m.is_match(f.as_str())))
        .map(|f| f.to_string())
        .collect();
    out.sort();
    Ok(out)
}
