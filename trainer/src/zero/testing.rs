//! A small engine for the crate's unit tests.

use super::Engine;
use crate::comm::CpuComm;
use crate::model::{LlamaConfig, RandomInit};
use runconfig::OptimizerConfig;
use tch::{Device, Kind};

/// A one-rank fp32 engine on the CPU of a two-block model: the embedding
/// (9600 parameters) and the head (9632) are smaller than each block
/// (10304, a shard of 10496); `bits` and `min_8bit_size` as in
/// `optimizer:`, no weight decay.
pub fn tiny_engine(bits: u32, min_8bit_size: u64) -> Engine {
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

impl Engine {
    /// Sets every element of unit `u`'s gradient accumulator to `value`.
    pub fn fill_grad(&mut self, u: usize, value: f64) {
        let _ = self.shards[u].grad.fill_(value);
    }
}
