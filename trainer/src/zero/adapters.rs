//! How the engine's passes apply a LoRA run's adapters: a training
//! micro-step drops out their input (`lora.dropout`; the masks keyed by the
//! run's seed, the optimizer step, the rank and the micro-step within the
//! step, see [`crate::model::Dropout`]), so that the backward pass's
//! recompute of a unit draws the masks its forward drew; a pass without
//! autograd (evaluation, DPO's reference) applies them without dropout, or
//! leaves them out while they are switched off. Without LoRA, or with a
//! dropout of 0, a pass is what it would be without this.

use super::engine::Engine;
use crate::batch::Batch;
use crate::model::{Adapters, Ctx, Dropout};
use anyhow::Result;

impl Engine {
    /// Draws the adapters' dropout masks from `seed` (the run's
    /// `train.seed`; 0 until set).
    pub fn set_dropout_seed(&mut self, seed: u64) {
        self.adapters.seed = seed;
    }

    /// Applies the LoRA adapters in the passes without autograd (`true`,
    /// the default) or leaves them out (`false`): the frozen base alone, as
    /// PEFT's `disable_adapter()` runs it (a reference model when the
    /// adapters are new). Training micro-steps always apply them (they
    /// train them). `modules_to_save` are trained copies and stay in:
    /// before the first step they hold the base's own weights (a run reads
    /// them from the base), unlike PEFT, which then runs the original
    /// modules.
    pub fn set_adapters(&mut self, on: bool) {
        self.adapters.on = on;
    }

    /// The context of a training micro-step on `batch`, the next of this
    /// optimizer step: the adapters on, their input dropped out when
    /// `lora.dropout` is above 0.
    pub(super) fn train_ctx(&mut self, batch: &Batch) -> Result<Ctx> {
        let micro = self.adapters.micro;
        self.adapters.micro += 1;
        let ctx = self.units.ctx(batch)?;
        let p = self.units.cfg().lora.as_ref().map_or(0.0, |l| l.dropout);
        let step = self.state.steps_done();
        let a = &self.adapters;
        Ok(match Dropout::new(p, a.seed, step, self.rank(), micro) {
            Some(d) => ctx.with_adapters(Adapters::Dropout(d)),
            None => ctx,
        })
    }

    /// The context of a pass without autograd on `batch`: the adapters on,
    /// without dropout, or off while switched off.
    pub(super) fn pass_ctx(&self, batch: &Batch) -> Result<Ctx> {
        let ctx = self.units.ctx(batch)?;
        Ok(match self.adapters.on {
            true => ctx,
            false => ctx.with_adapters(Adapters::Off),
        })
    }
}
