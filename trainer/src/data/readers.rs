//! Dataset files into raw rows: JSON Lines, Parquet (Hugging Face datasets'
//! format, read row by row into JSON objects) and plain text.
//!
//! Rows are kept as text (a JSON object, or the plain text of a sample) with
//! their file and line, and parsed only when a sample is built, so that an
//! error can name where the bad row is.

use anyhow::{bail, Context, Result};
use runconfig::{DataFormat, DatasetConfig, SampleBy};
use std::path::{Path, PathBuf};

/// One raw row and where it came from.
#[derive(Debug, Clone)]
pub struct Row {
    /// Index into [`Source::files`].
    pub file: usize,
    /// 1-based line (JSONL, text) or row number (Parquet, JSON arrays).
    pub line: u64,
    /// A JSON object, or plain text when the source is a text file.
    pub text: String,
}

/// The rows of one dataset of the mixture.
#[derive(Debug)]
pub struct Source {
    pub files: Vec<PathBuf>,
    pub format: DataFormat,
    pub rows: Vec<Row>,
}

impl Source {
    /// Where `row` is, for error messages: `file:line` or `file: row N`.
    pub fn at(&self, row: &Row) -> String {
        let file = self.files[row.file].display();
        match self.format {
            DataFormat::Parquet => format!("{file}: row {}", row.line),
            _ => format!("{file}:{}", row.line),
        }
    }

    /// True when rows are JSON objects (false: plain text).
    pub fn is_json(&self) -> bool {
        self.format != DataFormat::Text
    }
}

fn format_of(path: &Path) -> Option<DataFormat> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.ends_with(".jsonl") || name.ends_with(".json") || name.ends_with(".ndjson") {
        Some(DataFormat::Jsonl)
    } else if name.ends_with(".parquet") {
        Some(DataFormat::Parquet)
    } else if name.ends_with(".txt") || name.ends_with(".text") || name.ends_with(".md") {
        Some(DataFormat::Text)
    } else {
        None
    }
}

/// The files of a dataset and their format: the path itself, or the data
/// files of a folder in name order (see [`super::folder`]).
pub fn files_of(cfg: &DatasetConfig) -> Result<(Vec<PathBuf>, DataFormat)> {
    let Some(path) = &cfg.path else {
        return listed(cfg);
    };
    if path.is_file() {
        let format = cfg.format.or_else(|| format_of(path)).with_context(|| {
            format!(
                "{}: unknown file type; set `format: jsonl | parquet | text` on this dataset",
                path.display()
            )
        })?;
        return Ok((vec![path.clone()], format));
    }
    if !path.is_dir() {
        bail!("dataset {} does not exist", path.display());
    }
    super::folder::data_files(path, cfg.format)
}

/// The files of `cfg.files` (a Hub dataset's, resolved by `launch`): one
/// format for all of them.
fn listed(cfg: &DatasetConfig) -> Result<(Vec<PathBuf>, DataFormat)> {
    let label = cfg.label();
    let first = cfg.files.first().with_context(|| {
        format!("dataset {label}: no data files (a `hub` dataset is resolved by `launch`)")
    })?;
    let format = cfg.format.or_else(|| format_of(first)).with_context(|| {
        format!(
            "dataset {label}: {} is not a .jsonl, .json or .parquet file; set `format:`",
            first.display()
        )
    })?;
    if let Some(other) = cfg.files.iter().find(|f| format_of(f) != Some(format)) {
        bail!(
            "dataset {label} mixes data formats ({} and {}); set `format:` to read one of them",
            first.display(),
            other.display()
        );
    }
    Ok((cfg.files.clone(), format))
}

/// Reads every row of a dataset.
pub fn read(cfg: &DatasetConfig) -> Result<Source> {
    let (files, format) = files_of(cfg)?;
    let mut rows = Vec::new();
    for (i, f) in files.iter().enumerate() {
        match format {
            DataFormat::Jsonl => read_jsonl(f, i, &mut rows)?,
            DataFormat::Parquet => read_parquet(f, i, &mut rows)?,
            DataFormat::Text => read_text(f, i, cfg.sample_by, &mut rows)?,
        }
    }
    if rows.is_empty() {
        bail!("dataset {} has no rows", cfg.label());
    }
    Ok(Source {
        files,
        format,
        rows,
    })
}

fn read_string(path: &Path) -> Result<String> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot open dataset {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        anyhow::anyhow!("{}:{line}: not valid UTF-8", path.display())
    })
}

/// JSON Lines (blank lines are skipped), or a `.json` file holding one array.
fn read_jsonl(path: &Path, file: usize, rows: &mut Vec<Row>) -> Result<()> {
    let text = read_string(path)?;
    if text.trim_start().starts_with('[') {
        let all: Vec<serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid JSON array", path.display()))?;
        for (i, v) in all.into_iter().enumerate() {
            rows.push(Row {
                file,
                line: i as u64 + 1,
                text: v.to_string(),
            });
        }
        return Ok(());
    }
    push_lines(&text, file, rows);
    Ok(())
}

/// Every non-empty line of `text` as a row, numbered from 1.
fn push_lines(text: &str, file: usize, rows: &mut Vec<Row>) {
    for (i, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            rows.push(Row {
                file,
                line: i as u64 + 1,
                text: line.to_string(),
            });
        }
    }
}

/// Every row of a Parquet file as a JSON object (lists of structs become
/// arrays of objects).
fn read_parquet(path: &Path, file: usize, rows: &mut Vec<Row>) -> Result<()> {
    use parquet::file::reader::SerializedFileReader;
    let f = std::fs::File::open(path)
        .with_context(|| format!("cannot open dataset {}", path.display()))?;
    let reader = SerializedFileReader::new(f)
        .with_context(|| format!("{}: not a readable Parquet file", path.display()))?;
    for (i, row) in reader.into_iter().enumerate() {
        let row =
            row.with_context(|| format!("{}: row {}: cannot decode", path.display(), i + 1))?;
        rows.push(Row {
            file,
            line: i as u64 + 1,
            text: row.to_json_value().to_string(),
        });
    }
    Ok(())
}

/// Plain text: one sample per file, per paragraph or per non-empty line.
fn read_text(path: &Path, file: usize, by: SampleBy, rows: &mut Vec<Row>) -> Result<()> {
    let text = read_string(path)?;
    match by {
        SampleBy::Document => rows.push(Row {
            file,
            line: 1,
            text,
        }),
        SampleBy::Line => push_lines(&text, file, rows),
        SampleBy::Paragraph => {
            let mut start = None;
            let mut para: Vec<&str> = Vec::new();
            for (i, line) in text.lines().chain(std::iter::once("")).enumerate() {
                if line.trim().is_empty() {
                    if let Some(s) = start.take() {
                        rows.push(Row {
                            file,
                            line: s,
                            text: para.join("\n"),
                        });
                        para.clear();
                    }
                } else {
                    start.get_or_insert(i as u64 + 1);
                    para.push(line);
                }
            }
        }
    }
    Ok(())
}
