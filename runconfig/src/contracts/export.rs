//! What both binaries know about an export folder: the options of
//! `launch export`, the marker that makes an export recognisable as one this
//! tool wrote, and the rule for replacing a folder: only an empty one or an
//! earlier export is ever replaced, never a folder of someone else's files.

use crate::sections::ExportConfig;
pub use crate::values::parse_size;
use crate::values::{ByteSize, ExportDtype};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The marker file of every export: what the export wrote, file by file.
pub const MARKER: &str = ".ferrospeed-export.json";
const FORMAT: &str = "ferrospeed-export";

/// The one-line usage of `launch export`.
pub const USAGE_LINE: &str =
    "launch export CHECKPOINT OUT_DIR [--overwrite] [--dtype bf16|f32|compute] [--max-shard-size SIZE] [--merge]";

/// A folder the tool will not write to or replace; the message says why and
/// what to do instead.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The arguments of `launch export` (and of `trainer export`, which it runs).
#[derive(Debug, Clone, PartialEq, Default, clap::Args)]
pub struct ExportArgs {
    /// A step folder, or a run's output_dir or its checkpoints/ folder (the newest, `latest`)
    #[arg(value_name = "CHECKPOINT")]
    pub checkpoint: PathBuf,
    /// Where the Hugging Face model folder goes; it must be new or empty
    #[arg(value_name = "OUT_DIR")]
    pub out: PathBuf,
    /// Replace an earlier export in OUT_DIR, never other files
    #[arg(long)]
    pub overwrite: bool,
    /// bf16, f32 or compute: as export.dtype
    #[arg(long, value_name = "D")]
    pub dtype: Option<ExportDtype>,
    /// The largest shard file, e.g. 5GB: as export.max_shard_size
    #[arg(long, value_name = "SIZE")]
    pub max_shard_size: Option<ByteSize>,
    /// A LoRA run: the adapters merged into the base, as a full model (as export.merge)
    #[arg(long)]
    pub merge: bool,
}

/// `export` with its arguments, as `trainer export` reads them.
#[derive(clap::Parser)]
#[command(name = "export", override_usage = USAGE_LINE, disable_help_flag = true)]
struct ExportCommand {
    #[command(flatten)]
    args: ExportArgs,
}

impl ExportArgs {
    /// Parses the arguments after `export`; the error is one line.
    pub fn parse(args: &[String]) -> Result<ExportArgs, String> {
        use clap::Parser;
        let line = std::iter::once("export").chain(args.iter().map(String::as_str));
        match ExportCommand::try_parse_from(line) {
            Ok(c) => Ok(c.args),
            Err(e) => Err(crate::usage::one_line(&e)),
        }
    }

    /// The same arguments, as a command line (checkpoint and out first).
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut v = vec![self.checkpoint.clone().into(), self.out.clone().into()];
        if self.overwrite {
            v.push("--overwrite".into());
        }
        if self.merge {
            v.push("--merge".into());
        }
        for (flag, value) in [
            ("--dtype", self.dtype.map(|d| d.to_string())),
            (
                "--max-shard-size",
                self.max_shard_size.as_ref().map(|s| s.to_string()),
            ),
        ] {
            if let Some(x) = value {
                v.extend([flag.into(), x.into()]);
            }
        }
        v
    }

    /// Applies `--dtype`, `--max-shard-size` and `--merge` over a run's
    /// `export:` settings.
    pub fn apply(&self, export: &mut ExportConfig) {
        if self.merge {
            export.merge = true;
        }
        if let Some(d) = self.dtype {
            export.dtype = Some(d);
        }
        if let Some(s) = &self.max_shard_size {
            export.max_shard_size = Some(s.clone());
        }
    }
}

/// What a would-be output folder holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Folder {
    /// Nothing is there.
    Absent,
    /// An empty folder.
    Empty,
    /// A complete export this tool wrote, with nothing added or changed.
    Export,
    /// Anything else; the text says why it is not an export of ours.
    Foreign(String),
}

/// The marker of `dir`, when it is one of ours (complete or not).
pub fn read_marker(dir: &Path) -> Option<Map<String, Value>> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    let Value::Object(m) = serde_json::from_str(&text).ok()? else {
        return None;
    };
    (m.get("format") == Some(&json!(FORMAT))).then_some(m)
}

/// Looks at `dir` (a symbolic link at `dir` itself is not followed).
pub fn inspect(dir: &Path) -> Folder {
    let foreign = |why: String| Folder::Foreign(why);
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Folder::Absent,
        Err(e) => return foreign(format!("it cannot be read: {e}")),
        Ok(m) if m.file_type().is_symlink() => return foreign("it is a symbolic link".into()),
        Ok(m) if !m.is_dir() => return foreign("it is a file, not a folder".into()),
        Ok(_) => {}
    }
    let entries: Vec<(String, std::fs::Metadata)> = match std::fs::read_dir(dir) {
        Err(e) => return foreign(format!("it cannot be read: {e}")),
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| {
                Some((
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().ok()?,
                ))
            })
            .collect(),
    };
    if entries.is_empty() {
        return Folder::Empty;
    }
    let Some(marker) = read_marker(dir) else {
        return foreign(format!("it holds files and no {MARKER}"));
    };
    if marker.get("complete") != Some(&json!(true)) {
        return foreign("it holds an unfinished export".into());
    }
    let listed = marker.get("files").and_then(Value::as_object);
    let (mut added, mut changed) = (Vec::new(), Vec::new());
    for (name, meta) in entries.iter().filter(|(n, _)| n != MARKER) {
        match listed.and_then(|l| l.get(name)).and_then(Value::as_u64) {
            Some(size) if meta.is_file() && meta.len() == size => {}
            Some(_) => changed.push(name.as_str()),
            None => added.push(name.as_str()),
        }
    }
    match (added.is_empty(), changed.is_empty()) {
        (false, _) => foreign(format!(
            "it holds files the export did not write: {}",
            names(&added)
        )),
        (true, false) => foreign(format!(
            "files changed since the export: {}",
            names(&changed)
        )),
        (true, true) => Folder::Export,
    }
}

fn names(list: &[&str]) -> String {
    let mut v = list.to_vec();
    v.sort();
    match v.len() {
        0..=5 => v.join(", "),
        n => format!("{} and {} more", v[..5].join(", "), n - 5),
    }
}

/// Whether `launch export` may write to `out`: it is absent or empty, or it
/// holds an earlier export and `overwrite` is set.
pub fn check_out(out: &Path, overwrite: bool) -> Result<(), Refused> {
    let shown = out.display();
    match inspect(out) {
        Folder::Absent | Folder::Empty => Ok(()),
        Folder::Export if overwrite => Ok(()),
        Folder::Export => Err(Refused(format!(
            "{shown} holds an earlier export; pass --overwrite to replace it, or choose another OUT_DIR"
        ))),
        Folder::Foreign(why) => Err(Refused(format!(
            "{shown} is not empty and not an unchanged earlier export ({why}); it is left as it is: choose a new or empty OUT_DIR{}",
            if overwrite { " (--overwrite replaces only an earlier export)" } else { "" }
        ))),
    }
}

/// Whether an export may replace `dir` (absent, empty or an earlier export);
/// `hint` ends the message with what to do.
pub fn replaceable(dir: &Path, hint: &str) -> Result<(), Refused> {
    match inspect(dir) {
        Folder::Foreign(why) => Err(Refused(format!(
            "{} exists and is not an export written by this tool ({why}); it is never deleted: {hint}",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Writes the marker of `dir`: every file in it with its size, and `about`
/// (step, source); `complete: false` marks a folder still being written.
pub fn write_marker(dir: &Path, complete: bool, about: Map<String, Value>) -> std::io::Result<()> {
    let mut listed = Vec::new();
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let meta = e.metadata()?;
        if name != MARKER && meta.is_file() {
            listed.push((name, meta.len()));
        }
    }
    listed.sort();
    let files: Map<String, Value> = listed.into_iter().map(|(n, l)| (n, json!(l))).collect();
    let mut m = Map::new();
    m.insert("format".into(), json!(FORMAT));
    m.insert("version".into(), json!(1));
    m.insert("complete".into(), json!(complete));
    m.extend(about);
    m.insert("files".into(), Value::Object(files));
    let text = serde_json::to_string_pretty(&Value::Object(m)).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{MARKER}.partial"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(MARKER))
}
