//! The conventional names of a split's files when the card declares no
//! `configs:`, as `datasets` (`data_files.py`, `get_data_patterns`) reads
//! them: a keyword of the split (`train`/`training`, `validation`/`valid`/
//! `dev`/`val`, `test`/`testing`/`eval`/`evaluation`) as a folder name, else
//! in the file name, delimited by `-`, `.`, `_`, a space or a digit; with no
//! such name at all, every data file is the `train` split.

/// The keywords of the splits `datasets` knows by name.
const KEYWORDS: &[(&str, &[&str])] = &[
    ("train", &["train", "training"]),
    ("validation", &["validation", "valid", "dev", "val"]),
    ("test", &["test", "testing", "eval", "evaluation"]),
];

fn delimiter(c: char) -> bool {
    matches!(c, '-' | '.' | '_' | ' ') || c.is_ascii_digit()
}

/// Whether `word` stands in `part` between delimiters; `open_end`: the
/// word may end the part (a folder name) rather than be followed by a
/// delimiter (a file name, which goes on with its extension).
fn names(part: &str, word: &str, open_end: bool) -> bool {
    part.match_indices(word).any(|(at, _)| {
        let before = part[..at].chars().next_back();
        let after = part[at + word.len()..].chars().next();
        before.is_none_or(delimiter) && after.map_or(open_end, delimiter)
    })
}

fn in_folder(path: &str, word: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts[..parts.len() - 1]
        .iter()
        .any(|p| names(p, word, true))
}

fn in_file_name(path: &str, word: &str) -> bool {
    names(path.rsplit('/').next().unwrap_or(path), word, false)
}

/// The split each file belongs to under one rule, if any.
fn by_rule(path: &str, rule: fn(&str, &str) -> bool) -> Option<&'static str> {
    let hit = KEYWORDS
        .iter()
        .find(|(_, words)| words.iter().any(|w| rule(&path.to_ascii_lowercase(), w)));
    hit.map(|(split, _)| *split)
}

/// The files of `split` among `data` (data files of the repository).
pub fn files(data: &[&String], split: &str) -> Result<Vec<String>, String> {
    for rule in [in_folder as fn(&str, &str) -> bool, in_file_name] {
        let named: Vec<(&String, &str)> = data
            .iter()
            .filter_map(|f| by_rule(f, rule).map(|s| (*f, s)))
            .collect();
        if named.is_empty() {
            continue;
        }
        let mine: Vec<String> = named
            .iter()
            .filter(|(_, s)| *s == split)
            .map(|(f, _)| f.to_string())
            .collect();
        if mine.is_empty() {
            return Err(unknown_split(split, named.iter().map(|(_, s)| *s)));
        }
        return Ok(sorted(mine));
    }
    match split {
        "train" => Ok(sorted(data.iter().map(|f| f.to_string()).collect())),
        _ => Err(unknown_split(split, data.iter().map(|_| "train"))),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// "it has no split `x`; its splits: train, test".
pub fn unknown_split<'a>(split: &str, have: impl Iterator<Item = &'a str>) -> String {
    let mut splits: Vec<&str> = Vec::new();
    for s in have {
        if !splits.contains(&s) {
            splits.push(s);
        }
    }
    format!(
        "it has no split `{split}`; its splits: {} (set `split:`)",
        splits.join(", ")
    )
}
