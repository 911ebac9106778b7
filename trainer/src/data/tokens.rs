//! Pre-tokenized data: a JSONL file whose rows are `{"input_ids": [...]}`.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Reads every row's token ids; errors name the file and line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Vec<i64>>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open dataset {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let at = || format!("{}:{}", path.display(), i + 1);
        let line = line.with_context(at)?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("{}: not valid JSON", at()))?;
        let Some(ids) = value.get("input_ids").and_then(|v| v.as_array()) else {
            bail!("{}: the row has no `input_ids` list", at());
        };
        let ids: Option<Vec<i64>> = ids.iter().map(|t| t.as_i64()).collect();
        match ids {
            Some(ids) if ids.len() >= 2 => rows.push(ids),
            Some(_) => bail!("{}: `input_ids` needs at least 2 tokens", at()),
            None => bail!("{}: `input_ids` must hold integers", at()),
        }
    }
    if rows.is_empty() {
        bail!("dataset {} has no rows", path.display());
    }
    Ok(rows)
}

/// Concatenates `rows` and cuts the stream into samples of exactly `len`
/// tokens, dropping the remainder (as `group_texts` in transformers' examples).
pub fn pack(rows: &[Vec<i64>], len: usize) -> Vec<Vec<i64>> {
    let stream: Vec<i64> = rows.iter().flatten().copied().collect();
    stream.chunks_exact(len).map(<[i64]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn packing_fills_every_sample_and_keeps_the_order() {
        let rows = vec![vec![1, 2, 3], vec![4, 5], vec![6, 7, 8, 9]];
        assert_eq!(
            super::pack(&rows, 4),
            vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]
        );
    }
}
