//! Which rows of each dataset go to training and to validation.
//!
//! * Validation: a row is held out when a hash of (validation seed, the row's
//!   text) falls below `ratio`. The split depends on nothing else (not on the
//!   world size, the order of the datasets, other rows or other settings), so
//!   it is the same on every run, and two copies of one row always land on
//!   the same side.
//! * Mixture (open-instruct's mixer): a `mix_ratio` of at most 1 is a
//!   fraction: of the n training rows of a dataset, `floor(mix_ratio * n)`
//!   are taken, a seeded random subset; above 1 it is a number of samples
//!   `c`: every row `c / n` times, plus a seeded subset of `c % n` rows; then
//!   at most `max_samples`. Validation rows are thinned by a fraction the
//!   same way, kept whole for a count, and never repeated.

use super::order::SplitMix;
use runconfig::{DatasetConfig, ValidationConfig};
use sha2::{Digest, Sha256};

/// Row indices of one dataset for each split; training rows may repeat.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
}

/// True when the row with text `text` belongs to the validation split.
pub fn is_validation(text: &str, v: &ValidationConfig) -> bool {
    if v.ratio <= 0.0 {
        return false;
    }
    let mut h = Sha256::new();
    h.update(v.seed.to_le_bytes());
    h.update(text.as_bytes());
    let d = h.finalize();
    let x = u64::from_le_bytes(d[..8].try_into().expect("8 bytes"));
    (x as f64) < v.ratio * 2f64.powi(64)
}

/// A stable 64-bit number for a dataset's path or Hub id (seeds its subset
/// choice; the same wherever the Hub cache is).
pub fn dataset_seed(cfg: &DatasetConfig) -> u64 {
    let d = Sha256::digest(cfg.label().as_bytes());
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// `count` indices drawn from `rows` (in order): every row `count / n`
/// times, then a seeded random subset of `count % n` rows, kept in order.
pub fn take(rows: &[usize], count: usize, seed: u64) -> Vec<usize> {
    let n = rows.len();
    if n == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count / n {
        out.extend_from_slice(rows);
    }
    let extra = count % n;
    if extra > 0 {
        // Partial Fisher-Yates: the first `extra` of a seeded permutation.
        let mut idx: Vec<usize> = (0..n).collect();
        let mut rng = SplitMix::new(seed);
        for i in 0..extra {
            let j = i + rng.below(n - i);
            idx.swap(i, j);
        }
        let mut pick = idx[..extra].to_vec();
        pick.sort_unstable();
        out.extend(pick.into_iter().map(|i| rows[i]));
    }
    out
}

/// Splits the rows of one dataset (given by their texts) and applies its
/// mixture settings; `seed` is the run's data seed.
pub fn select<S: AsRef<str>>(
    texts: &[S],
    cfg: &DatasetConfig,
    validation: Option<&ValidationConfig>,
    seed: u64,
) -> Selection {
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (i, t) in texts.iter().enumerate() {
        match validation {
            Some(v) if is_validation(t.as_ref(), v) => val.push(i),
            _ => train.push(i),
        }
    }
    let ratio = cfg.mix_ratio.unwrap_or(1.0).max(0.0);
    let cap = cfg.max_samples.map_or(usize::MAX, |m| m as usize);
    let (n_train, n_val) = match ratio > 1.0 {
        // A count of samples, as open-instruct's mixer reads it.
        true => (ratio.floor() as usize, val.len()),
        false => {
            let of = |n: usize| (ratio * n as f64).floor() as usize;
            (of(train.len()), of(val.len()))
        }
    };
    let n_train = n_train.min(cap);
    let s = seed ^ dataset_seed(cfg);
    Selection {
        train: take(&train, n_train, s),
        validation: take(&val, n_val, s.rotate_left(17)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_repeats_whole_rows_then_a_subset() {
        let rows: Vec<usize> = (10..20).collect();
        let t = take(&rows, 25, 3);
        assert_eq!(t.len(), 25);
        assert_eq!(&t[..10], &rows[..]);
        assert_eq!(&t[10..20], &rows[..]);
        assert!(t[20..].windows(2).all(|w| w[0] < w[1]));
        assert_eq!(take(&rows, 4, 3), take(&rows, 4, 3));
    }
}
