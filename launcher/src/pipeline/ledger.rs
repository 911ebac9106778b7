//! `<output_dir>/pipeline.jsonl`: one row per job, rewritten atomically
//! (temporary file, fsync, rename, fsync of the folder) after every change,
//! so a kill at any moment leaves the previous or the next version.

use anyhow::{Context, Result};
use runconfig::safe_fs;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The ledger's file name.
pub const LEDGER: &str = "pipeline.jsonl";

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    Completed,
    Failed,
    Interrupted,
}

/// One job's row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub stage: String,
    pub job: String,
    pub status: Status,
    pub attempts: u32,
    /// Unix seconds of the last start / end.
    pub started: Option<u64>,
    pub finished: Option<u64>,
    pub output_dir: PathBuf,
    pub final_dir: Option<PathBuf>,
    pub exit_code: Option<i32>,
    pub log: Option<PathBuf>,
}

/// The rows of a pipeline and the file they live in.
pub struct Ledger {
    path: PathBuf,
    pub rows: Vec<Row>,
    /// The pipeline's stages in order ([`Ledger::order`]): a new row goes
    /// after the rows of its stage and the stages before it.
    stages: Vec<String>,
}

impl Ledger {
    /// Reads `<dir>/pipeline.jsonl` (none yet: no rows).
    pub fn open(dir: &Path) -> Result<Ledger> {
        let path = dir.join(LEDGER);
        let rows = match read(&path) {
            Ok(text) => parse(&text)
                .with_context(|| format!("the ledger {} is not valid", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Ledger {
            path,
            rows,
            stages: Vec::new(),
        })
    }

    /// The row of `stage`/`job`, added as pending when new.
    pub fn row(&mut self, stage: &str, job: &str, output_dir: &Path) -> &mut Row {
        let at = self
            .rows
            .iter()
            .position(|r| r.stage == stage && r.job == job);
        let at = at.unwrap_or_else(|| {
            let place = self.rank(stage);
            let at = self
                .rows
                .iter()
                .position(|r| self.rank(&r.stage) > place)
                .unwrap_or(self.rows.len());
            self.rows.insert(
                at,
                Row {
                    stage: stage.into(),
                    job: job.into(),
                    status: Status::Pending,
                    attempts: 0,
                    started: None,
                    finished: None,
                    output_dir: output_dir.into(),
                    final_dir: None,
                    exit_code: None,
                    log: None,
                },
            );
            at
        });
        &mut self.rows[at]
    }

    /// Puts the rows in the order of `stages` (rows of stages no longer in
    /// the pipeline last), keeping the order of a stage's jobs, and keeps
    /// rows added later in that order.
    pub fn order(&mut self, stages: &[&str]) {
        self.stages = stages.iter().map(|s| s.to_string()).collect();
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by_key(|r| self.rank(&r.stage));
        self.rows = rows;
    }

    /// Where `stage` stands in the pipeline (unknown stages last).
    fn rank(&self, stage: &str) -> usize {
        self.stages
            .iter()
            .position(|s| s == stage)
            .unwrap_or(self.stages.len())
    }

    /// Writes every row: new temporary file, fsync, rename, fsync of the folder.
    pub fn save(&self) -> Result<()> {
        let mut text = String::new();
        for r in &self.rows {
            text.push_str(&serde_json::to_string(r)?);
            text.push('\n');
        }
        safe_fs::replace(&self.path, text.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// The ledger's text; a link in its place is refused, not read.
fn read(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    safe_fs::open_nofollow(path, std::fs::OpenOptions::new().read(true))?
        .read_to_string(&mut text)?;
    Ok(text)
}

fn parse(text: &str) -> Result<Vec<Row>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("line {}", i + 1)))
        .collect()
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
