//! Random initialisation from the config alone, as transformers does it
//! (normal(0, `initializer_range`) for matrices, ones for norms, zeros for
//! biases, a zero embedding row for `pad_token_id`; PEFT's uniform `lora_A`
//! and zero `lora_B`), deterministic from a seed.
//!
//! Every element is a pure function of (seed, parameter name, element index),
//! so any range can be produced on its own: each ZeRO rank initialises only
//! its shard, and the model is the same whatever the world size.

use anyhow::{bail, Result};
use rayon::prelude::*;
use tch::Tensor;

use super::source::ParamSource;
use super::units::{Init, ParamSpec, EMBED_WEIGHT};
use runconfig::model::LlamaConfig;

/// A [`ParamSource`] of freshly initialised parameters.
#[derive(Debug, Clone)]
pub struct RandomInit {
    seed: u64,
    std: f64,
    hidden: i64,
    pad_row: Option<i64>,
    /// `lora_A` normal with std 1/r (`lora.init: gaussian`) instead of
    /// kaiming-uniform.
    gaussian_adapters: bool,
}

impl RandomInit {
    /// Initialisation for `cfg`'s model from `seed`.
    pub fn new(cfg: &LlamaConfig, seed: u64) -> Self {
        RandomInit {
            seed,
            std: cfg.initializer_range,
            hidden: cfg.hidden_size,
            pad_row: cfg
                .pad_token_id
                .filter(|&p| (0..cfg.vocab_size).contains(&p)),
            gaussian_adapters: false,
        }
    }

    /// New adapters' `lora_A` drawn as PEFT's `init_lora_weights="gaussian"`
    /// does: normal with std 1/r.
    pub fn gaussian_adapters(self) -> Self {
        RandomInit {
            gaussian_adapters: true,
            ..self
        }
    }
}

impl ParamSource for RandomInit {
    fn read_range(&self, param: &ParamSpec, start: i64, len: i64) -> Result<Tensor> {
        if start < 0 || len < 0 || start + len > param.numel() {
            bail!(
                "parameter {}: range [{start}, {}) outside its {} elements",
                param.name,
                start + len,
                param.numel()
            );
        }
        let values: Vec<f32> = match param.init {
            Init::Ones => vec![1.0; len as usize],
            Init::Zeros => vec![0.0; len as usize],
            Init::KaimingUniform if self.gaussian_adapters => {
                let key = mix(self.seed ^ mix(fnv1a(param.name.as_bytes())));
                let std = 1.0 / param.shape[0] as f64;
                (start..start + len)
                    .into_par_iter()
                    .map(|i| (std * normal(key, i as u64)) as f32)
                    .collect()
            }
            Init::KaimingUniform => {
                let key = mix(self.seed ^ mix(fnv1a(param.name.as_bytes())));
                let bound = 1.0 / (param.shape[1] as f64).sqrt();
                (start..start + len)
                    .into_par_iter()
                    .map(|i| (bound * (2.0 * uniform(key, i as u64) - 1.0)) as f32)
                    .collect()
            }
            Init::Normal => {
                let key = mix(self.seed ^ mix(fnv1a(param.name.as_bytes())));
                let pad = if param.name == EMBED_WEIGHT {
                    self.pad_row.map(|r| r * self.hidden..(r + 1) * self.hidden)
                } else {
                    None
                };
                // Element-wise pure, so it runs on every core (an 8B model
                // is 8e9 draws) and gives the same values on any number.
                (start..start + len)
                    .into_par_iter()
                    .map(|i| match &pad {
                        Some(row) if row.contains(&i) => 0.0,
                        _ => (self.std * normal(key, i as u64)) as f32,
                    })
                    .collect()
            }
        };
        Ok(Tensor::from_slice(&values))
    }
}

/// Standard normal for element `i`: Box-Muller on the pair `i / 2`, the
/// cosine branch for even `i` and the sine branch for odd `i`.
fn normal(key: u64, i: u64) -> f64 {
    let pair = i / 2;
    let a = mix(key.wrapping_add(pair.wrapping_mul(2)));
    let b = mix(key.wrapping_add(pair.wrapping_mul(2) + 1));
    let u1 = ((a >> 11) + 1) as f64 / (1u64 << 53) as f64; // (0, 1]
    let u2 = (b >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
    let r = (-2.0 * u1.ln()).sqrt();
    let angle = std::f64::consts::TAU * u2;
    if i.is_multiple_of(2) {
        r * angle.cos()
    } else {
        r * angle.sin()
    }
}

/// Uniform in [0, 1) for element `i`.
fn uniform(key: u64, i: u64) -> f64 {
    (mix(key.wrapping_add(i)) >> 11) as f64 / (1u64 << 53) as f64
}

/// SplitMix64 finaliser.
pub(super) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::units::all_params;

    fn cfg() -> LlamaConfig {
        LlamaConfig::from_json_str(
            r#"{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                "num_attention_heads": 4, "vocab_size": 50, "initializer_range": 0.5,
                "pad_token_id": 3, "attention_bias": true}"#,
            "test",
        )
        .unwrap()
    }

    #[test]
    fn ranges_agree_with_the_whole() {
        let cfg = cfg();
        let init = RandomInit::new(&cfg, 7);
        for p in all_params(&cfg) {
            let whole = init.read(&p).unwrap().reshape([-1]);
            let n = p.numel();
            let part = init.read_range(&p, n / 3, n / 2).unwrap();
            assert!(part.equal(&whole.narrow(0, n / 3, n / 2)), "{}", p.name);
        }
    }

    #[test]
    fn statistics_and_special_values() {
        let cfg = cfg();
        let init = RandomInit::new(&cfg, 7);
        let params = all_params(&cfg);
        let embed = init.read(&params[0]).unwrap();
        assert_eq!(
            embed.get(3).abs().sum(tch::Kind::Float).double_value(&[]),
            0.0
        );
        let std = embed.std(true).double_value(&[]);
        assert!((std - 0.5).abs() < 0.03, "std {std}");
        let mean = embed.mean(tch::Kind::Float).double_value(&[]);
        assert!(mean.abs() < 0.03, "mean {mean}");
        for p in &params {
            let t = init.read(p).unwrap();
            match p.init {
                Init::Ones => assert!(t.eq(1.0).all().int64_value(&[]) == 1),
                Init::Zeros => assert!(t.eq(0.0).all().int64_value(&[]) == 1),
                Init::Normal | Init::KaimingUniform => {}
            }
        }
        let other = RandomInit::new(&cfg, 8).read(&params[0]).unwrap();
        assert!(!other.equal(&embed));
        assert!(RandomInit::new(&cfg, 7)
            .read(&params[0])
            .unwrap()
            .equal(&embed));
    }
}
