//! How a pass applies the LoRA adapters ([`Adapters`]), and the adapters'
//! dropout (PEFT's `lora_dropout`): in training, each adapter's input is
//! dropped out before `lora_A`, as PEFT's `lora.Linear.forward` computes
//! `result + lora_B(lora_A(dropout(x))) * scaling`, with inverted scaling
//! (the kept elements are divided by `1 - p`).
//!
//! The engine runs a unit without autograd and recomputes it with autograd
//! in the backward pass: both must drop the same elements, or the gradients
//! belong to another forward. So a mask is a pure function of a key: the
//! run's seed, the optimizer step, the rank, the micro-step within the step
//! (the pass's [`Dropout::new`]), then the layer and the projection
//! ([`Dropout::at`]); the same key, shape and device give the same mask.
//! The rank is part of the key because each rank drops out its own rows,
//! so with `p > 0` runs at different world sizes draw different masks and
//! no longer agree exactly (they do with `p = 0`). The key does not depend
//! on what ran before, so a resumed run draws the masks an uninterrupted
//! one would.
//!
//! A mask is drawn from torch's generator seeded with the key (CPU and
//! CUDA draw different masks for one key): one kernel, as torch's own
//! dropout, where a hash of every element would cost several passes. The
//! generator is global, so each draw reseeds it under a lock: ranks that
//! share a process (the tests' threads) cannot interleave their draws.
//! Nothing else in the trainer draws from torch's generator.

use std::sync::Mutex;

use tch::{Kind, Tensor};

use super::init::mix;

/// How a pass applies the LoRA adapters (nothing changes without LoRA).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Adapters {
    /// Added to their projections: evaluation, and training without dropout.
    On,
    /// Added, their input dropped out: a training micro-step with `p > 0`.
    Dropout(Dropout),
    /// Left out: the base model alone (as PEFT's `disable_adapter()`), for
    /// DPO's reference.
    Off,
}

/// Dropout of the adapters' input with probability `p`, its masks drawn
/// from `key`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// Probability that an element is dropped, in `(0, 1)`.
    pub p: f64,
    /// What the masks are drawn from.
    pub key: u64,
}

/// Held while torch's generator is reseeded and drawn from.
static DRAW: Mutex<()> = Mutex::new(());

impl Dropout {
    /// The dropout of micro-step `micro` of optimizer step `step` (0-based)
    /// on `rank`, in the run of `seed`; `None` when `p` is 0.
    pub fn new(p: f64, seed: u64, step: u64, rank: usize, micro: u64) -> Option<Dropout> {
        let key = [step, rank as u64, micro]
            .iter()
            .fold(mix(seed), |k, &x| mix(k ^ mix(x)));
        (p > 0.0).then_some(Dropout { p, key })
    }

    /// The dropout of the adapter of projection `proj` (its index in
    /// [`runconfig::model::LORA_TARGETS`]) of decoder layer `layer`.
    pub fn at(&self, layer: usize, proj: usize) -> Dropout {
        let key = mix(mix(self.key ^ mix(layer as u64)) ^ mix(proj as u64));
        Dropout { key, ..*self }
    }

    /// Where `x`'s elements are kept (true, probability `1 - p`): a boolean
    /// tensor of `x`'s shape on its device, the same for the same key.
    pub fn keep(&self, x: &Tensor) -> Tensor {
        // The CPU generator (mt19937) takes 32 bits of its seed: fold the
        // key's high half into them.
        let seed = (self.key ^ (self.key >> 32)) & 0xffff_ffff;
        let _held = DRAW.lock().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(seed as i64);
        Tensor::rand(x.size(), (Kind::Float, x.device())).ge(self.p)
    }

    /// `x` with the dropped elements zeroed and the kept ones divided by
    /// `1 - p`, so that its expectation is `x`.
    pub fn apply(&self, x: &Tensor) -> Tensor {
        x.where_scalarother(&self.keep(x), 0.0) * (1.0 / (1.0 - self.p))
    }
}
