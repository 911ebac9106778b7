//! The state of a LoRA run's passes that the engine keeps between them:
//! the dropout masks' seed, the micro-step within the optimizer step, and
//! whether the adapters are switched on (see `adapters.rs`).

/// What the passes need to apply the adapters.
pub(super) struct AdapterPasses {
    /// What the dropout masks start from (the run's `train.seed`).
    pub(super) seed: u64,
    /// Micro-steps run since the last optimizer step.
    pub(super) micro: u64,
    /// Whether the adapters are applied (else the base model runs alone).
    pub(super) on: bool,
}

impl AdapterPasses {
    /// Adapters on, seed 0, no micro-step run yet.
    pub(super) fn new() -> AdapterPasses {
        AdapterPasses {
            seed: 0,
            micro: 0,
            on: true,
        }
    }

    /// An optimizer step was taken: the next micro-step is its first.
    pub(super) fn step_taken(&mut self) {
        self.micro = 0;
    }
}
