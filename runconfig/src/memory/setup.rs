//! One rank's view of a run, as the planner needs it beyond the model.

use crate::model::shard::eight_bit;
use crate::schema::{ActivationCheckpointing, Config, Dtype, Objective, Offload};

/// What the planner needs beyond the model: one rank's view of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub world_size: u64,
    /// Sequences per device per micro-step.
    pub micro_batch: u64,
    pub seq_len: u64,
    pub dtype: Dtype,
    /// Optimizer-state bits: 32 or 8.
    pub bits: u32,
    /// Units below this many parameters keep 32-bit state.
    pub min_8bit_size: u64,
    /// Rows per sequence in a forward pass (2 for DPO: chosen and rejected).
    pub rows_per_sequence: u64,
    /// Master weights and optimizer state in host memory (`optimizer.offload: cpu`).
    pub offload: bool,
    /// Collectives overlap compute (`overlap_comm`, several ranks): one more
    /// gathered unit and one more unit gradient in flight.
    pub overlap: bool,
    /// Units before the head, counted from the embedding, that the backward
    /// pass recomputes (at most all of them: `u64::MAX` means all); the
    /// others keep their autograd graph and gathered parameters from
    /// forward to backward (`train.activation_checkpointing`).
    pub recomputed: u64,
    /// LoRA adapters drop out their input (`lora.dropout` above 0): each
    /// keeps the dropped copy and the mask for its backward pass.
    pub lora_dropout: bool,
}

impl Setup {
    /// The setup of `config` at `world_size` with `micro_batch` sequences per device.
    pub fn of(config: &Config, world_size: u32, micro_batch: u64) -> Setup {
        Setup {
            world_size: world_size as u64,
            micro_batch,
            seq_len: config.data.max_seq_length as u64,
            dtype: config.model.dtype,
            bits: config.optimizer.bits,
            min_8bit_size: config.optimizer.min_8bit_size,
            rows_per_sequence: if config.data.objective == Objective::Dpo {
                2
            } else {
                1
            },
            offload: config.optimizer.offload == Offload::Cpu,
            overlap: config.overlap_comm && world_size > 1,
            // `auto` is resolved against a device size by `fit::plan`.
            recomputed: match config.train.activation_checkpointing {
                ActivationCheckpointing::Off => 0,
                ActivationCheckpointing::On | ActivationCheckpointing::Auto => u64::MAX,
            },
            lora_dropout: config.lora.as_ref().is_some_and(|l| l.dropout > 0.0),
        }
    }

    /// Whether a unit of `params` parameters keeps 8-bit optimizer state.
    pub(crate) fn eight_bit(&self, params: u64) -> bool {
        eight_bit(self.bits, self.min_8bit_size, params)
    }

    pub(crate) fn compute_bytes(&self) -> u64 {
        match self.dtype {
            Dtype::F32 => 4,
            Dtype::Bf16 => 2,
        }
    }

    /// Rows times tokens of one micro-batch.
    pub(crate) fn tokens(&self) -> u64 {
        self.micro_batch * self.rows_per_sequence * self.seq_len
    }
}
