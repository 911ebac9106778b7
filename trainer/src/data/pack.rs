//! Encoded examples into rows of a [`SampleSet`]: one example per row, or
//! packed.
//!
//! * Pretraining packing concatenates every example (each ends with EOS) and
//!   cuts the stream into rows of exactly `max_seq_length` tokens, dropping
//!   the remainder (`group_texts` in transformers' examples): documents may
//!   attend to each other, as in the usual pretraining setup.
//! * SFT packing places whole examples, in order, into rows of at most
//!   `max_seq_length` tokens (a new row when the next one does not fit);
//!   each example is its own segment, so the trainer can keep them from
//!   attending to each other (`Ctx::packed`).

use super::encode::{Encoded, Tokens};
use super::sample::{SampleSet, SetKind};
use runconfig::{Config, Objective};

/// One row per example.
pub fn unpacked(examples: &[Tokens], kind: SetKind) -> SampleSet {
    let mut set = SampleSet::new(kind);
    for t in examples {
        set.push_row(&t.ids, &t.targets, &[]);
    }
    set
}

/// The pretraining stream cut into rows of exactly `len` tokens.
pub fn stream(examples: &[Tokens], len: usize) -> SampleSet {
    let mut set = SampleSet::new(SetKind::Lm);
    let (mut ids, mut targets) = (Vec::with_capacity(len), Vec::with_capacity(len));
    for t in examples {
        for (&id, &tg) in t.ids.iter().zip(&t.targets) {
            ids.push(id);
            targets.push(tg);
            if ids.len() == len {
                set.push_row(&ids, &targets, &[]);
                ids.clear();
                targets.clear();
            }
        }
    }
    set
}

/// Whole examples packed greedily, in order, into rows of at most `len`
/// tokens; every example starts a new segment.
pub fn segments(examples: &[Tokens], len: usize) -> SampleSet {
    let mut set = SampleSet::new(SetKind::Lm);
    let (mut ids, mut targets, mut starts) = (Vec::new(), Vec::new(), Vec::new());
    for t in examples {
        if !ids.is_empty() && ids.len() + t.ids.len() > len {
            set.push_row(&ids, &targets, &starts);
            ids.clear();
            targets.clear();
            starts.clear();
        }
        starts.push(ids.len());
        ids.extend_from_slice(&t.ids);
        targets.extend_from_slice(&t.targets);
    }
    if !ids.is_empty() {
        set.push_row(&ids, &targets, &starts);
    }
    set
}

/// The rows of a split: pairs for dpo, else single, streamed or segment-packed
/// rows as `data.packing` and the objective say.
pub fn to_set(examples: Vec<Encoded>, config: &Config) -> SampleSet {
    let len = config.data.max_seq_length;
    if config.data.objective == Objective::Dpo {
        let mut set = SampleSet::new(SetKind::Pairs);
        for e in &examples {
            if let Encoded::Pair(c, r) = e {
                set.push_row(&c.ids, &c.targets, &[]);
                set.push_row(&r.ids, &r.targets, &[]);
            }
        }
        return set;
    }
    let rows: Vec<Tokens> = examples
        .into_iter()
        .filter_map(|e| match e {
            Encoded::One(t) => Some(t),
            _ => None,
        })
        .collect();
    match (config.data.packing, config.data.objective) {
        (false, _) => unpacked(&rows, SetKind::Lm),
        (true, Objective::Pretrain) => stream(&rows, len),
        (true, _) => segments(&rows, len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sample::IGNORE;

    fn t(ids: &[u32]) -> Tokens {
        Tokens {
            ids: ids.to_vec(),
            targets: vec![true; ids.len()],
        }
    }

    #[test]
    fn stream_fills_rows_and_segments_keep_examples_whole() {
        let ex = [t(&[1, 2, 3]), t(&[4, 5]), t(&[6, 7, 8, 9])];
        let s = stream(&ex, 4);
        assert_eq!(s.len(), 2);
        assert_eq!(s.sample(1).input_ids, vec![5, 6, 7, 8]);
        let p = segments(&ex, 5);
        assert_eq!(p.len(), 2);
        let r = p.sample(0);
        assert_eq!(r.input_ids, vec![1, 2, 3, 4, 5]);
        assert_eq!(r.position_ids, vec![0, 1, 2, 0, 1]);
        assert_eq!(r.labels, vec![IGNORE, 2, 3, IGNORE, 5]);
        assert_eq!(p.sample(1).input_ids, vec![6, 7, 8, 9]);
    }
}
