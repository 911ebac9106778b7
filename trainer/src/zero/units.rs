//! The model as the engine runs it: its architecture, its units in order
//! (the gather granularity) and the dtype and device it computes in. What
//! a pass needs besides the shards and the collectives: the flat layouts
//! of the units over a world, the gathers a pass makes, a batch's rotary
//! tables and mask, and the head unit.

use super::layout::Layout;
use crate::batch::Batch;
use crate::model::{units, Ctx, Head, LlamaConfig, UnitSpec};
use anyhow::Result;
use tch::{Device, Kind, Tensor};

/// The model's units and where and in what dtype they compute.
pub struct Units {
    cfg: LlamaConfig,
    specs: Vec<UnitSpec>,
    dtype: Kind,
    device: Device,
}

impl Units {
    /// `cfg`'s units, computing in `dtype` on `device`.
    pub fn new(cfg: LlamaConfig, dtype: Kind, device: Device) -> Units {
        let specs = units(&cfg);
        Units {
            cfg,
            specs,
            dtype,
            device,
        }
    }

    pub fn cfg(&self) -> &LlamaConfig {
        &self.cfg
    }

    pub fn specs(&self) -> &[UnitSpec] {
        &self.specs
    }

    pub fn spec(&self, u: usize) -> &UnitSpec {
        &self.specs[u]
    }

    /// Number of units; the last is the head.
    pub fn count(&self) -> usize {
        self.specs.len()
    }

    pub fn dtype(&self) -> Kind {
        self.dtype
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Parameters of the whole model.
    pub fn parameter_count(&self) -> i64 {
        self.specs.iter().map(|s| s.numel()).sum()
    }

    /// The flat layouts of the units for `rank` of `world`.
    pub fn layouts(&self, rank: usize, world: usize) -> Vec<Layout> {
        self.specs
            .iter()
            .map(|s| {
                let params: Vec<(String, Vec<i64>)> = s
                    .params
                    .iter()
                    .map(|p| (p.name.clone(), p.shape.clone()))
                    .collect();
                Layout::new(&params, rank, world)
            })
            .collect()
    }

    /// The gathers of a pass through the first `units` units (a unit tied
    /// to the embedding gathers it too).
    pub fn forward_plan(&self, units: usize) -> Vec<usize> {
        (0..units)
            .flat_map(|u| match self.specs[u].uses_embedding {
                true => vec![u, 0],
                false => vec![u],
            })
            .collect()
    }

    /// Rotary tables and attention mask of a batch (packed rows attend
    /// within their own document only).
    pub fn ctx(&self, batch: &Batch) -> Result<Ctx> {
        Ok(match (&batch.position_ids, &batch.segment_ids) {
            (Some(pos), Some(seg)) => Ctx::packed(&self.cfg, pos, seg, self.dtype)?,
            (Some(pos), None) => Ctx::with_positions(&self.cfg, pos, self.dtype),
            _ => Ctx::causal(
                &self.cfg,
                batch.input_ids.size()[1],
                self.dtype,
                self.device,
            ),
        })
    }

    /// The head unit with its gathered `params` (and the tied embedding).
    pub fn head<'a>(&'a self, params: &'a [Tensor], tied: Option<&'a Tensor>) -> Head<'a> {
        Head {
            cfg: &self.cfg,
            unit: &self.specs[self.specs.len() - 1],
            params,
            tied,
        }
    }
}
