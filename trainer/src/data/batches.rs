//! Which samples each step, rank and micro-step takes, and the tensors fed
//! to the model. A step consumes `effective_batch_size` samples in a fixed
//! order that does not depend on the world size.

use super::order::epoch_order;
use runconfig::Plan;
use tch::{Device, Kind, Tensor};

/// Label value that contributes no loss.
pub const IGNORE: i64 = -100;

/// The samples of a run, split into steps.
pub struct Steps {
    samples: Vec<Vec<i64>>,
    max_len: usize,
    plan: Plan,
    seed: u64,
    shuffle: bool,
    /// Optimizer steps per epoch (a trailing partial batch is dropped).
    pub per_epoch: u64,
}

/// One micro-batch: token ids and labels (`IGNORE` on padding), `[B, T]`.
pub struct MicroBatch {
    pub input_ids: Tensor,
    pub labels: Tensor,
}

impl Steps {
    /// Splits `samples` (truncated to `max_len` tokens) into steps of the plan.
    pub fn new(
        samples: Vec<Vec<i64>>,
        max_len: usize,
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
            max_len,
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

    fn tokens(&self, i: usize) -> &[i64] {
        let s = &self.samples[i];
        &s[..s.len().min(self.max_len)]
    }

    /// Loss targets in the whole global batch of `step` (every rank computes
    /// the same number: the loss is normalised by it).
    pub fn targets(&self, step: u64) -> i64 {
        self.step_samples(step)
            .iter()
            .map(|&i| self.tokens(i).len() as i64 - 1)
            .sum()
    }

    /// The micro-batch `micro` (0..grad_accum) of `rank` in `step`.
    pub fn micro_batch(&self, step: u64, rank: usize, micro: u64, device: Device) -> MicroBatch {
        let all = self.step_samples(step);
        let m = self.plan.micro_batch_size as usize;
        let first = micro as usize * m * self.plan.world_size as usize + rank * m;
        let rows: Vec<&[i64]> = all[first..first + m]
            .iter()
            .map(|&i| self.tokens(i))
            .collect();
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let (mut ids, mut labels) = (Vec::with_capacity(m * width), Vec::with_capacity(m * width));
        for r in &rows {
            ids.extend_from_slice(r);
            labels.extend_from_slice(r);
            ids.extend(std::iter::repeat_n(0, width - r.len()));
            labels.extend(std::iter::repeat_n(IGNORE, width - r.len()));
        }
        let shape = [m as i64, width as i64];
        MicroBatch {
            input_ids: Tensor::from_slice(&ids)
                .view(shape)
                .to_kind(Kind::Int64)
                .to_device(device),
            labels: Tensor::from_slice(&labels).view(shape).to_device(device),
        }
    }
}
