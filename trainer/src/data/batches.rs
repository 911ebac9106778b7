//! Which samples each step, rank and micro-step takes, and the tensors fed
//! to the model. A step consumes `effective_batch_size` samples in a fixed
//! order that does not depend on the world size.

use super::collate::collate;
use super::order::epoch_order;
use super::sample::SampleSet;
use runconfig::Plan;
use tch::{Device, Tensor};

pub use super::sample::IGNORE;

/// The samples of a run, split into steps.
pub struct Steps {
    samples: SampleSet,
    pad_id: i64,
    plan: Plan,
    seed: u64,
    shuffle: bool,
    /// Optimizer steps per epoch (a trailing partial batch is dropped).
    pub per_epoch: u64,
}

/// One micro-batch, `[B, T]` tensors: token ids, labels (`IGNORE` on padding
/// and untrained tokens), position ids and segment ids (see
/// [`super::collate::Batch`]).
pub struct MicroBatch {
    pub input_ids: Tensor,
    pub labels: Tensor,
    pub position_ids: Tensor,
    pub segment_ids: Tensor,
    /// Several examples share a row: attention must be `Ctx::packed`.
    pub packed: bool,
}

impl Steps {
    /// Splits `samples` (single rows, already within `max_seq_length`) into
    /// steps of the plan; rows are padded with `pad_id`.
    pub fn new(
        samples: SampleSet,
        pad_id: i64,
        plan: Plan,
        seed: u64,
        shuffle: bool,
    ) -> anyhow::Result<Steps> {
        let per_epoch = (samples.len() as u64) / plan.effective_batch_size;
        anyhow::ensure!(
            per_epoch > 0,
            "the dataset has {} samples, fewer than one effective batch of {}",
            samples.len(),
            plan.effective_batch_size
        );
        Ok(Steps {
            samples,
            pad_id,
            plan,
            seed,
            shuffle,
            per_epoch,
        })
    }

    /// Sample indices of global step `step`, in order.
    pub fn step_samples(&self, step: u64) -> Vec<usize> {
        let (epoch, k) = (step / self.per_epoch, (step % self.per_epoch) as usize);
        let e = self.plan.effective_batch_size as usize;
        epoch_order(self.samples.len(), epoch, self.seed, self.shuffle)[k * e..(k + 1) * e].to_vec()
    }

    /// Loss targets in the whole global batch of `step` (every rank computes
    /// the same number: the loss is normalised by it).
    pub fn targets(&self, step: u64) -> i64 {
        self.step_samples(step)
            .iter()
            .map(|&i| self.samples.sample(i).targets() as i64)
            .sum()
    }

    /// The micro-batch `micro` (0..grad_accum) of `rank` in `step`.
    pub fn micro_batch(&self, step: u64, rank: usize, micro: u64, device: Device) -> MicroBatch {
        let all = self.step_samples(step);
        let m = self.plan.micro_batch_size as usize;
        let first = micro as usize * m * self.plan.world_size as usize + rank * m;
        let rows: Vec<_> = all[first..first + m]
            .iter()
            .map(|&i| self.samples.sample(i))
            .collect();
        let b = collate(&rows, self.pad_id, None, device);
        MicroBatch {
            input_ids: b.input_ids,
            labels: b.labels,
            position_ids: b.position_ids,
            segment_ids: b.segment_ids,
            packed: b.packed,
        }
    }
}
