//! Engine methods that only tests call (the crate's unit tests and the
//! integration tests in `trainer/tests`): the trainer itself never does.

use super::step::StepStats;
use super::Engine;
use crate::batch::Batch;
use anyhow::Result;
use tch::{Kind, Tensor};

impl Engine {
    /// One optimizer step on the gradients accumulated so far, outside the
    /// training loop: [`Engine::reduce_step`] with nothing carried, then
    /// [`Engine::apply_step`].
    pub fn step(&mut self, lr: f64, max_norm: f64) -> Result<StepStats> {
        let nothing = Tensor::zeros([0], (Kind::Double, self.device));
        let (_, terms) = self.reduce_step(nothing)?;
        self.apply_step(terms, lr, max_norm)
    }

    /// The logits of `batch` without autograd, the whole `[B, T, V]` at
    /// once (the trainer's passes take the head over chunks).
    pub fn forward(&mut self, batch: &Batch) -> Result<Tensor> {
        let units = self.specs.len();
        let plan = self.forward_plan(units);
        self.collectives.plan(plan);
        self.run_units(batch, units)
    }

    /// Sets every element of unit `u`'s gradient accumulator to `value`.
    #[cfg(test)]
    pub fn fill_grad(&mut self, u: usize, value: f64) {
        let _ = self.shards[u].grad.fill_(value);
    }
}

/// A one-rank fp32 engine on the CPU of a two-block model: the embedding
/// (9600 parameters) and the head (9632) are smaller than each block
/// (10304, a shard of 10496); `bits` and `min_8bit_size` as in
/// `optimizer:`, no weight decay.
#[cfg(test)]
pub fn tiny_engine(bits: u32, min_8bit_size: u64) -> Engine {
    use crate::comm::CpuComm;
    use crate::model::{LlamaConfig, RandomInit};
    use runconfig::OptimizerConfig;
    use tch::Device;
    let cfg = LlamaConfig::from_json_str(
        r#"{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "vocab_size": 300}"#,
        "test",
    )
    .unwrap();
    let init = RandomInit::new(&cfg, 1);
    let opt = OptimizerConfig {
        bits,
        min_8bit_size,
        weight_decay: 0.0,
        ..OptimizerConfig::default()
    };
    let comm = Box::new(CpuComm::single());
    Engine::new(cfg, &init, comm, Kind::Float, Device::Cpu, &opt).unwrap()
}
