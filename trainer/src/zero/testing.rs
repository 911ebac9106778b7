//! Engine methods that only tests call (the crate's unit tests and the
//! integration tests in `trainer/tests`): the trainer itself never does.

use super::sharded::StepStats;
use super::Engine;
use crate::batch::Batch;
use anyhow::Result;
use tch::{Kind, Tensor};

impl Engine {
    /// One optimizer step on the gradients accumulated so far, outside the
    /// training loop: [`Engine::reduce_step`] with nothing carried, then
    /// [`Engine::apply_step`].
    pub fn step(&mut self, lr: f64, max_norm: f64) -> Result<StepStats> {
        let nothing = Tensor::zeros([0], (Kind::Double, self.units.device()));
        let (_, terms) = self.reduce_step(nothing)?;
        self.apply_step(terms, lr, max_norm)
    }

    /// The logits of `batch` without autograd, the whole `[B, T, V]` at
    /// once (the trainer's passes take the head over chunks).
    pub fn forward(&mut self, batch: &Batch) -> Result<Tensor> {
        let units = self.units.count();
        let plan = self.units.forward_plan(units);
        self.collectives.plan(plan);
        self.run_units(batch, units)
    }

    /// Gathers off the plan so far, with a backend that overlaps (0 when
    /// every pass gathers exactly what it planned, in order).
    pub fn off_plan_gathers(&self) -> u64 {
        self.collectives.off_plan()
    }

    /// Sets every element of unit `u`'s gradient accumulator to `value`.
    #[cfg(test)]
    pub fn fill_grad(&mut self, u: usize, value: f64) {
        let _ = self.state.shards_mut()[u].grad.fill_(value);
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

/// The tiny engine's shards are views of its arenas, and its optimizer
/// state is one optimizer per kind, not per unit.
#[cfg(test)]
mod tests {
    use super::tiny_engine as engine;
    use tch::Tensor;

    /// Whether `view` is `arena`'s storage from element `offset` on.
    fn views(view: &Tensor, arena: &Tensor, offset: usize) -> bool {
        view.data_ptr() as usize == arena.data_ptr() as usize + 4 * offset
    }

    #[test]
    fn shards_view_one_arena_with_one_optimizer_per_kind() {
        let e = engine(32, 1 << 40);
        assert_eq!(e.state.shards().len(), 4);
        assert_eq!(e.state.arena().groups.len(), 1);
        // Blocks 8-bit, the embedding and the head 32-bit: two optimizers.
        let e = engine(8, 10_000);
        assert_eq!(e.state.arena().groups.len(), 2);
        let groups: Vec<usize> = e.state.shards().iter().map(|s| s.group).collect();
        assert_eq!(groups, [0, 1, 1, 0]);
        let total: usize = e.state.shards().iter().map(|s| s.layout.shard_len).sum();
        assert_eq!(e.state.arena().master.numel(), total);
        for s in e.state.shards() {
            assert!(views(&s.master, &e.state.arena().master, s.offset));
            assert!(views(&s.grad, &e.state.arena().grad, s.offset));
            assert!(views(&s.compute, &e.state.arena().master, s.offset));
        }
    }

    #[test]
    fn a_step_of_the_arenas_is_seen_through_the_shards() {
        for (bits, moment) in [(32, "exp_avg"), (8, "exp_avg_absmax")] {
            let mut e = engine(bits, 10_000);
            let before: Vec<Tensor> = e.state.shards().iter().map(|s| s.master.copy()).collect();
            // A gradient of 1 on block 0 only, accumulated through its view.
            let _ = e.state.shards_mut()[1].grad.fill_(1.0);
            e.step(1e-3, 0.0).unwrap();
            let delta = |u: usize| (&e.state.shards()[u].master - &before[u]).abs_();
            // Step 1 of AdamW with g = 1: m = 0.1, and an update of -lr.
            let off = (delta(1) - 1e-3).abs().max().double_value(&[]);
            assert!(off < 1e-5, "{bits}-bit: {off}");
            assert_eq!(delta(0).max().double_value(&[]), 0.0);
            assert_eq!(delta(2).max().double_value(&[]), 0.0);
            let state = e.saved_state();
            let piece = |u: usize| {
                let pieces = &state[u].pieces;
                pieces
                    .iter()
                    .find(|(n, _)| *n == moment)
                    .unwrap()
                    .1
                    .shallow_clone()
            };
            let m = piece(1);
            assert!((m - 0.1).abs().max().double_value(&[]) < 1e-6, "{bits}-bit");
            assert_eq!(piece(2).abs().max().double_value(&[]), 0.0);
            assert_eq!(e.state.shards()[1].grad.abs().max().double_value(&[]), 0.0);
        }
    }
}
