//! What the data layer did, per dataset and in total: counts and warnings
//! for the log, stored with the cache.

use serde::{Deserialize, Serialize};

/// What the data layer did, per dataset and in total.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub datasets: Vec<DatasetSummary>,
    pub train_samples: usize,
    pub validation_samples: usize,
    pub train_tokens: usize,
    pub bad_rows_skipped: usize,
    pub dropped_overlong: usize,
    pub dropped_no_targets: usize,
    /// Rows cut to `max_row_bytes` before tokenising (`overlong: truncate`).
    #[serde(default)]
    pub cut_by_size: usize,
    /// The byte limit of a row's text (see [`super::encode::max_row_bytes`]).
    #[serde(default)]
    pub max_row_bytes: usize,
    /// Human-readable warnings (skipped rows with their first locations).
    pub warnings: Vec<String>,
}

impl Summary {
    /// One line per dataset: rows read, taken for training (repeats
    /// included) and held out for validation.
    pub fn lines(&self) -> Vec<String> {
        let per = self.datasets.iter().map(|d| {
            format!(
                "data: {}: {} rows, {} for training, {} for validation",
                d.path, d.rows, d.train_rows, d.validation_rows
            )
        });
        let mut lines: Vec<String> = per.collect();
        let mut long = Vec::new();
        if self.dropped_overlong > 0 {
            long.push(format!(
                "{} sample(s) over max_seq_length dropped (data.overlong: drop)",
                self.dropped_overlong
            ));
        }
        if self.cut_by_size > 0 {
            long.push(format!(
                "{} row(s) over {} bytes cut before tokenising (data.overlong: truncate)",
                self.cut_by_size, self.max_row_bytes
            ));
        }
        if !long.is_empty() {
            lines.push(format!("data: {}", long.join("; ")));
        }
        lines
    }
}

/// One dataset's share.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DatasetSummary {
    pub path: String,
    pub rows: usize,
    /// Training examples taken (after mix_ratio / max_samples, repeats included).
    pub train_rows: usize,
    pub validation_rows: usize,
    pub bad_rows: usize,
}
