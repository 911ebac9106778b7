//! Training samples: token rows with their labels and position ids, stored
//! compactly (5 bytes a token) and handed out one row at a time.
//!
//! Labels follow the Hugging Face convention: `labels[t]` is the target of
//! the prediction made at position `t - 1` (the model shifts), and
//! [`IGNORE`] (-100) marks tokens that are not trained. A row may hold several
//! packed examples ("segments"): position ids restart at 0 where a segment
//! starts, and the first token of every segment is never a target.

use anyhow::{ensure, Result};

/// Label value that contributes no loss.
pub const IGNORE: i64 = -100;

/// One row of tokens, as the model consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub input_ids: Vec<i64>,
    /// `input_ids[t]` where token t is a target, else [`IGNORE`].
    pub labels: Vec<i64>,
    /// Position of each token within its segment (0 where a segment starts).
    pub position_ids: Vec<i64>,
}

impl Sample {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.input_ids.len()
    }

    /// True when the row holds no token.
    pub fn is_empty(&self) -> bool {
        self.input_ids.is_empty()
    }

    /// Segment of each token: 0 for the first example of the row, 1 for the
    /// next, ... (a new segment starts wherever the position id is 0).
    pub fn segment_ids(&self) -> Vec<i64> {
        let mut seg = -1;
        self.position_ids
            .iter()
            .map(|&p| {
                if p == 0 {
                    seg += 1;
                }
                seg.max(0)
            })
            .collect()
    }

    /// Loss targets of the row: labels other than [`IGNORE`] after the first
    /// token (the first token is never predicted).
    pub fn targets(&self) -> usize {
        self.labels.iter().skip(1).filter(|&&l| l != IGNORE).count()
    }
}

/// A preference pair for DPO: the same prompt with the chosen and the rejected
/// response; labels only on the response tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairSample {
    pub chosen: Sample,
    pub rejected: Sample,
}

/// What the rows of a [`SampleSet`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// Each entry is one [`Sample`] (pretrain, sft).
    Lm,
    /// Entries come in (chosen, rejected) pairs (dpo).
    Pairs,
}

/// Bit in a token's flag byte: the token is a target.
const LABEL: u8 = 1;
/// Bit in a token's flag byte: a segment starts at this token.
const START: u8 = 2;

/// Many rows in three flat arrays; cheap to keep for millions of samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSet {
    pub kind: SetKind,
    pub(crate) tokens: Vec<u32>,
    pub(crate) flags: Vec<u8>,
    /// Row r is `tokens[offsets[r]..offsets[r + 1]]`.
    pub(crate) offsets: Vec<u64>,
}

impl SampleSet {
    /// An empty set.
    pub fn new(kind: SetKind) -> SampleSet {
        SampleSet {
            kind,
            tokens: Vec::new(),
            flags: Vec::new(),
            offsets: vec![0],
        }
    }

    /// Rows stored (a pair counts twice).
    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Samples: rows for `Lm`, pairs for `Pairs`.
    pub fn len(&self) -> usize {
        match self.kind {
            SetKind::Lm => self.rows(),
            SetKind::Pairs => self.rows() / 2,
        }
    }

    /// True when the set holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens over all rows.
    pub fn total_tokens(&self) -> usize {
        self.tokens.len()
    }

    /// Length of row `r`.
    pub fn row_len(&self, r: usize) -> usize {
        (self.offsets[r + 1] - self.offsets[r]) as usize
    }

    /// Appends a row given its tokens, which of them are targets, and where
    /// segments start (the first token always starts one).
    pub fn push_row(&mut self, tokens: &[u32], targets: &[bool], starts: &[usize]) {
        debug_assert_eq!(tokens.len(), targets.len());
        let base = self.flags.len();
        self.tokens.extend_from_slice(tokens);
        self.flags
            .extend(targets.iter().map(|&t| if t { LABEL } else { 0 }));
        if !tokens.is_empty() {
            self.flags[base] |= START;
        }
        for &s in starts {
            if s < tokens.len() {
                self.flags[base + s] |= START;
            }
        }
        self.offsets.push(self.tokens.len() as u64);
    }

    /// Row `r` as a [`Sample`]; the first token of each segment gets no label.
    pub fn row(&self, r: usize) -> Sample {
        let (a, b) = (self.offsets[r] as usize, self.offsets[r + 1] as usize);
        let n = b - a;
        let (mut ids, mut labels, mut pos) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut p = 0i64;
        for i in a..b {
            let (t, f) = (self.tokens[i] as i64, self.flags[i]);
            if f & START != 0 {
                p = 0;
            }
            ids.push(t);
            labels.push(if f & LABEL != 0 && p > 0 { t } else { IGNORE });
            pos.push(p);
            p += 1;
        }
        Sample {
            input_ids: ids,
            labels,
            position_ids: pos,
        }
    }

    /// Sample `i` of an `Lm` set.
    pub fn sample(&self, i: usize) -> Sample {
        assert_eq!(self.kind, SetKind::Lm, "sample() on a set of pairs");
        self.row(i)
    }

    /// Pair `i` of a `Pairs` set.
    pub fn pair(&self, i: usize) -> PairSample {
        assert_eq!(self.kind, SetKind::Pairs, "pair() on a set of single rows");
        PairSample {
            chosen: self.row(2 * i),
            rejected: self.row(2 * i + 1),
        }
    }

    /// Largest token id (checked against the model's vocabulary).
    pub fn max_token(&self) -> Option<u32> {
        self.tokens.iter().copied().max()
    }

    /// Longest row.
    pub fn max_row_len(&self) -> usize {
        (0..self.rows()).map(|r| self.row_len(r)).max().unwrap_or(0)
    }

    /// Checks the internal invariants (used after reading a cache file).
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.tokens.len() == self.flags.len()
                && self.offsets.first() == Some(&0)
                && self.offsets.last() == Some(&(self.tokens.len() as u64))
                && self.offsets.windows(2).all(|w| w[0] <= w[1])
                && (self.kind == SetKind::Lm || self.rows().is_multiple_of(2)),
            "inconsistent sample set"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_restart_positions_and_mask_segment_starts() {
        let mut set = SampleSet::new(SetKind::Lm);
        set.push_row(&[5, 6, 7, 8, 9], &[true; 5], &[3]);
        let s = set.sample(0);
        assert_eq!(s.position_ids, vec![0, 1, 2, 0, 1]);
        assert_eq!(s.labels, vec![IGNORE, 6, 7, IGNORE, 9]);
        assert_eq!(s.segment_ids(), vec![0, 0, 0, 1, 1]);
        assert_eq!(s.targets(), 3);
    }
}
