//! Filling a rank's master shards: from Hugging Face safetensors (reading only
//! the owned ranges) or from a seeded random initialisation whose values do
//! not depend on the world size.

use super::layout::Layout;
use crate::model::{Init, LlamaConfig, SafetensorsWeights, UnitSpec};
use anyhow::Result;
use tch::{Device, Kind, Tensor};

/// Where initial weights come from.
pub enum Source {
    /// Normal(0, initializer_range) matrices, unit norms, zero biases.
    Random { seed: u64, std: f64 },
    /// A Hugging Face checkpoint.
    Files(SafetensorsWeights),
}

fn fnv1a(text: &str, seed: u64) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

impl Source {
    /// The random source of a config.
    pub fn random(cfg: &LlamaConfig, seed: u64) -> Source {
        Source::Random { seed, std: cfg.initializer_range }
    }

    /// `count` elements of parameter `name` from flat position `first`, f32.
    fn read(&self, name: &str, shape: &[i64], init: Init, first: usize, count: usize) -> Result<Tensor> {
        let opts = (Kind::Float, Device::Cpu);
        Ok(match self {
            Source::Files(w) => w.read_range(name, first, count)?,
            Source::Random { seed, std } => match init {
                Init::Ones => Tensor::ones([count as i64], opts),
                Init::Zeros => Tensor::zeros([count as i64], opts),
                Init::Normal => {
                    tch::manual_seed(fnv1a(name, *seed) as i64 & i64::MAX);
                    let numel: i64 = shape.iter().product();
                    (Tensor::randn([numel], opts) * *std).narrow(0, first as i64, count as i64)
                }
            },
        })
    }

    /// This rank's fp32 master shard of `spec` laid out as `layout`.
    pub fn shard(&self, spec: &UnitSpec, layout: &Layout) -> Result<Tensor> {
        let master = Tensor::zeros([layout.shard_len as i64], (Kind::Float, Device::Cpu));
        for (slot, first, count, at) in layout.pieces() {
            let p = spec.params.iter().find(|p| p.name == slot.name).expect("layout built from spec");
            let values = self.read(&p.name, &p.shape, p.init, first, count)?;
            master.narrow(0, at as i64, count as i64).copy_(&values);
        }
        Ok(master)
    }
}
