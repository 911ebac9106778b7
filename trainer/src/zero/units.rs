//! The model as the engine runs it: its architecture, its units in order
//! (the gather granularity) and the dtype and device it computes in. What
//! a pass needs besides the shards and the collectives: the flat layouts
//! of the units over a world, the gathers a pass makes, a batch's rotary
//! tables and mask, and the head unit.
//!
//! A LoRA run (`cfg.lora`) trains the adapters only: each unit's
//! parameters are then split, in order, into its trainable ones (the
//! adapters: what the sharded state and the optimizer see) and its frozen
//! ones (the base: `frozen.rs`), joined back in the unit's order when the
//! unit runs. Without LoRA every parameter is trainable.

use super::flight::Part;
use super::layout::Layout;
use crate::batch::Batch;
use crate::model::{units, Ctx, Head, LlamaConfig, UnitSpec};
use anyhow::Result;
use tch::{Device, Kind, Tensor};

/// The model's units and where and in what dtype they compute.
pub struct Units {
    cfg: LlamaConfig,
    specs: Vec<UnitSpec>,
    /// Per unit, per parameter: whether it is trained.
    masks: Vec<Vec<bool>>,
    /// Each unit with its trained parameters only.
    trainable: Vec<UnitSpec>,
    /// Each unit with its frozen parameters only.
    frozen: Vec<UnitSpec>,
    dtype: Kind,
    device: Device,
}

impl Units {
    /// `cfg`'s units, computing in `dtype` on `device`.
    pub fn new(cfg: LlamaConfig, dtype: Kind, device: Device) -> Units {
        let specs = units(&cfg);
        let lora = cfg.lora.as_ref().map(|l| l.shape);
        let trains = |name: &str| lora.is_none_or(|l| l.trains(name));
        let masks: Vec<Vec<bool>> = specs
            .iter()
            .map(|s| s.params.iter().map(|p| trains(&p.name)).collect())
            .collect();
        let part = |want: bool| -> Vec<UnitSpec> {
            let pairs = specs.iter().zip(&masks);
            pairs.map(|(s, m)| subset(s, m, want)).collect()
        };
        let (trainable, frozen) = (part(true), part(false));
        Units {
            cfg,
            specs,
            masks,
            trainable,
            frozen,
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

    /// Unit `u` with its trained parameters only (all of them without LoRA).
    pub fn trainable(&self, u: usize) -> &UnitSpec {
        &self.trainable[u]
    }

    /// Unit `u` with its frozen parameters only (none without LoRA).
    pub fn frozen(&self, u: usize) -> &UnitSpec {
        &self.frozen[u]
    }

    /// Whether the base is frozen (a LoRA run).
    pub fn frozen_base(&self) -> bool {
        self.cfg.lora.is_some()
    }

    /// The flat layouts of the units' trained parameters for `rank` of `world`.
    pub fn layouts(&self, rank: usize, world: usize) -> Vec<Layout> {
        layouts(&self.trainable, rank, world)
    }

    /// The flat layouts of the units' frozen parameters for `rank` of `world`.
    pub fn frozen_layouts(&self, rank: usize, world: usize) -> Vec<Layout> {
        layouts(&self.frozen, rank, world)
    }

    /// The gathers unit `u` itself needs: its frozen part, then its
    /// trained part, each when it has parameters.
    pub fn gathers(&self, u: usize) -> Vec<Part> {
        let frozen = (!self.frozen[u].params.is_empty()).then_some(Part::Frozen(u));
        let trained = (!self.trainable[u].params.is_empty()).then_some(Part::Trainable(u));
        frozen.into_iter().chain(trained).collect()
    }

    /// The gathers of a pass through the first `units` units (a unit tied
    /// to the embedding gathers it too).
    pub fn forward_plan(&self, units: usize) -> Vec<Part> {
        (0..units)
            .flat_map(|u| match self.specs[u].uses_embedding {
                true => [self.gathers(u), self.gathers(0)].concat(),
                false => self.gathers(u),
            })
            .collect()
    }

    /// The gathers of the backward pass's recompute of the first `units`
    /// units, in its (reverse) order.
    pub fn backward_plan(&self, units: usize) -> Vec<Part> {
        let recomputed = (0..units).rev().filter(|&u| self.needs_backward(u));
        recomputed.flat_map(|u| self.gathers(u)).collect()
    }

    /// Whether unit `u` (not the head) has a backward pass: a gradient for
    /// its input or for a trained parameter.
    pub fn needs_backward(&self, u: usize) -> bool {
        u > 0 || !self.trainable[u].params.is_empty()
    }

    /// Unit `u`'s parameters in its order, from its frozen and its trained
    /// ones (each in order).
    pub fn merge(&self, u: usize, frozen: Vec<Tensor>, trained: Vec<Tensor>) -> Vec<Tensor> {
        let (mut frozen, mut trained) = (frozen.into_iter(), trained.into_iter());
        let mut next = |t: bool| match t {
            true => trained.next().expect("a trained parameter"),
            false => frozen.next().expect("a frozen parameter"),
        };
        self.masks[u].iter().map(|&t| next(t)).collect()
    }

    /// Per parameter of unit `u`, in order: whether it is trained.
    pub fn mask(&self, u: usize) -> &[bool] {
        &self.masks[u]
    }

    /// Of `all` (one tensor per parameter of unit `u`, in order), those of
    /// the trained parameters.
    pub fn trained_of(&self, u: usize, all: Vec<Tensor>) -> Vec<Tensor> {
        let pairs = all.into_iter().zip(&self.masks[u]);
        pairs.filter(|(_, &t)| t).map(|(x, _)| x).collect()
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

    /// The head unit with its gathered `params` (and the tied embedding);
    /// frozen when none of them is trained.
    pub fn head<'a>(&'a self, params: &'a [Tensor], tied: Option<&'a Tensor>) -> Head<'a> {
        let u = self.specs.len() - 1;
        let trained = |u: usize| self.masks[u].iter().any(|&t| t);
        Head {
            cfg: &self.cfg,
            unit: &self.specs[u],
            params,
            tied,
            frozen: !trained(u) && (tied.is_none() || !trained(0)),
        }
    }
}

/// `spec` with the parameters whose `mask` entry is `want`, in order.
fn subset(spec: &UnitSpec, mask: &[bool], want: bool) -> UnitSpec {
    let pairs = spec.params.iter().zip(mask);
    let kept: Vec<&str> = pairs
        .filter(|(_, &t)| t == want)
        .map(|(p, _)| p.name.as_str())
        .collect();
    spec.keep(|name| kept.contains(&name))
}

/// The flat layouts of `specs` for `rank` of `world`.
fn layouts(specs: &[UnitSpec], rank: usize, world: usize) -> Vec<Layout> {
    specs
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
