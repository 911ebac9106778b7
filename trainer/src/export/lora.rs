//! The weights a LoRA run exports: its adapters alone, under PEFT's names
//! (`base_model.model.` + the model's name, no adapter name), or the
//! adapters merged into the base as PEFT's `merge_and_unload()` does
//! (`W + scale * B A`, computed in fp32 from the fp32 masters and the base
//! as gathered, so a 4-bit base is dequantised first, then merged).

use super::source::UnitWeights;
use crate::model::{is_adapter, PEFT_PREFIX};
use anyhow::{Context, Result};
use runconfig::model::Lora;
use std::collections::HashMap;
use tch::Tensor;

/// The trained parameters of `inner` under PEFT's names.
pub struct AdapterWeights<'a> {
    pub inner: &'a mut dyn UnitWeights,
}

fn peft_name(name: String) -> String {
    format!("{PEFT_PREFIX}{name}")
}

impl UnitWeights for AdapterWeights<'_> {
    fn rank(&self) -> usize {
        self.inner.rank()
    }

    fn parameters(&self) -> Vec<(String, Vec<i64>)> {
        let trained = self.inner.trained_parameters().into_iter();
        trained.map(|(n, s)| (peft_name(n), s)).collect()
    }

    fn units(&self) -> usize {
        self.inner.units()
    }

    fn gather_unit(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        let trained = self.inner.gather_trained(u)?.into_iter();
        Ok(trained.map(|(n, t)| (peft_name(n), t)).collect())
    }

    fn barrier(&mut self) -> Result<()> {
        self.inner.barrier()
    }
}

/// The model of `inner` with its adapters merged into the base weights.
pub struct MergedWeights<'a> {
    pub inner: &'a mut dyn UnitWeights,
    pub lora: Lora,
}

impl UnitWeights for MergedWeights<'_> {
    fn rank(&self) -> usize {
        self.inner.rank()
    }

    fn parameters(&self) -> Vec<(String, Vec<i64>)> {
        let all = self.inner.parameters().into_iter();
        all.filter(|(n, _)| !is_adapter(n)).collect()
    }

    fn units(&self) -> usize {
        self.inner.units()
    }

    fn gather_unit(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        let params = self.inner.gather_unit(u)?;
        merge(params, self.lora.scale())
    }

    fn barrier(&mut self) -> Result<()> {
        self.inner.barrier()
    }
}

/// `params` (a unit's, base and adapters) with each adapted projection's
/// weight replaced by `W + scale * B A`, and the adapters left out.
pub fn merge(params: Vec<(String, Tensor)>, scale: f64) -> Result<Vec<(String, Tensor)>> {
    let mut adapters: HashMap<String, Tensor> = HashMap::new();
    let mut base = Vec::new();
    for (name, t) in params {
        match is_adapter(&name) {
            true => {
                adapters.insert(name, t);
            }
            false => base.push((name, t)),
        }
    }
    base.into_iter()
        .map(|(name, w)| {
            let Some(module) = name.strip_suffix(".weight") else {
                return Ok((name, w));
            };
            let a = adapters.get(&format!("{module}.lora_A.weight"));
            let b = adapters.get(&format!("{module}.lora_B.weight"));
            match (a, b) {
                (Some(a), Some(b)) => {
                    let delta = (b.matmul(a) * scale).to_kind(w.kind());
                    Ok((name, w + delta))
                }
                (None, None) => Ok((name, w)),
                _ => None.with_context(|| format!("{module}: lora_A or lora_B is missing")),
            }
        })
        .collect()
}
