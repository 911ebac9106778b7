//! Which samples each step, rank and micro-step takes, and the tensors fed
//! to the model. A step consumes `effective_batch_size` items (rows, or
//! preference pairs) in a fixed order that does not depend on the world size.

use super::collate::collate;
use super::order::epoch_order;
use super::sample::{Sample, SampleSet, SetKind};
use crate::batch::Batch;
use runconfig::{Plan, ReduceLoss};
use std::cell::RefCell;
use tch::Device;

pub use super::sample::IGNORE;

/// The samples of a run, split into steps.
pub struct Steps {
    set: SampleSet,
    pad_id: i64,
    plan: Plan,
    seed: u64,
    shuffle: bool,
    /// Optimizer steps per epoch (a trailing partial batch is dropped).
    pub per_epoch: u64,
    /// The order of the epoch last asked for (shuffled once per epoch, not
    /// once per micro-batch).
    order: RefCell<(u64, Vec<usize>)>,
}

/// The model rows of `items`: one row per sample, or for preference pairs
/// every chosen row, then every rejected row.
pub fn rows(set: &SampleSet, items: &[usize]) -> Vec<Sample> {
    match set.kind {
        SetKind::Lm => items.iter().map(|&i| set.sample(i)).collect(),
        SetKind::Pairs => {
            let pairs: Vec<_> = items.iter().map(|&i| set.pair(i)).collect();
            let chosen = pairs.iter().map(|p| p.chosen.clone());
            chosen
                .chain(pairs.iter().map(|p| p.rejected.clone()))
                .collect()
        }
    }
}

/// The batch of `items` of `set`, padded with `pad_id`.
pub fn batch(set: &SampleSet, items: &[usize], pad_id: i64, device: Device) -> Batch {
    collate(&rows(set, items), pad_id, device)
}

/// Items of `0..n` that `rank` takes, `micro` per round, for a pass over a
/// whole set (evaluation, the DPO reference): every rank runs the same number
/// of rounds; a rank with nothing left repeats item 0, marked not real.
pub fn shares(n: usize, world: usize, rank: usize, micro: usize) -> Vec<(Vec<usize>, Vec<bool>)> {
    let per_round = world * micro;
    let rounds = n.div_ceil(per_round);
    (0..rounds)
        .map(|k| {
            let first = k * per_round + rank * micro;
            let items: Vec<usize> = (first..first + micro)
                .map(|i| if i < n { i } else { 0 })
                .collect();
            let real = (first..first + micro).map(|i| i < n).collect();
            (items, real)
        })
        .collect()
}

impl Steps {
    /// Splits `set` (rows already within `max_seq_length`) into steps of the
    /// plan; rows are padded with `pad_id`.
    pub fn new(
        set: SampleSet,
        pad_id: i64,
        plan: Plan,
        seed: u64,
        shuffle: bool,
    ) -> anyhow::Result<Steps> {
        let per_epoch = (set.len() as u64) / plan.effective_batch_size;
        anyhow::ensure!(
            per_epoch > 0,
            "the dataset has {} samples, fewer than one effective batch of {}",
            set.len(),
            plan.effective_batch_size
        );
        Ok(Steps {
            set,
            pad_id,
            plan,
            seed,
            shuffle,
            per_epoch,
            order: RefCell::new((u64::MAX, Vec::new())),
        })
    }

    /// The samples (or pairs).
    pub fn set(&self) -> &SampleSet {
        &self.set
    }

    /// The padding token id.
    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }

    /// Item indices of global step `step`, in order.
    pub fn step_items(&self, step: u64) -> Vec<usize> {
        let (epoch, k) = (step / self.per_epoch, (step % self.per_epoch) as usize);
        let e = self.plan.effective_batch_size as usize;
        let mut order = self.order.borrow_mut();
        if order.0 != epoch {
            *order = (
                epoch,
                epoch_order(self.set.len(), epoch, self.seed, self.shuffle),
            );
        }
        order.1[k * e..(k + 1) * e].to_vec()
    }

    /// What the step's loss is normalised by, the same on every rank: target
    /// tokens in the global batch (`reduce_loss: mean`) or its number of
    /// micro-batches (`sum`), or its number of pairs.
    pub fn normaliser(&self, step: u64, reduce: ReduceLoss) -> i64 {
        match self.set.kind {
            SetKind::Lm if reduce == ReduceLoss::Sum => {
                (self.plan.effective_batch_size / self.plan.micro_batch_size) as i64
            }
            SetKind::Lm => self
                .step_items(step)
                .iter()
                .map(|&i| self.set.sample(i).targets() as i64)
                .sum(),
            SetKind::Pairs => self.plan.effective_batch_size as i64,
        }
    }

    /// Items of micro-batch `micro` (0..grad_accum) of `rank` in `step`.
    pub fn micro_items(&self, step: u64, rank: usize, micro: u64) -> Vec<usize> {
        let all = self.step_items(step);
        let m = self.plan.micro_batch_size as usize;
        let first = micro as usize * m * self.plan.world_size as usize + rank * m;
        all[first..first + m].to_vec()
    }

    /// The items of micro-batch `micro` of `rank` in `step`, and the batch
    /// they make.
    pub fn micro_batch(
        &self,
        step: u64,
        rank: usize,
        micro: u64,
        device: Device,
    ) -> (Vec<usize>, Batch) {
        let items = self.micro_items(step, rank, micro);
        let b = batch(&self.set, &items, self.pad_id, device);
        (items, b)
    }
}
