//! The shards are views of the arenas, and the optimizer state is one
//! optimizer per kind, not per unit.

use super::super::testing::tiny_engine as engine;
use tch::Tensor;

/// Whether `view` is `arena`'s storage from element `offset` on.
fn views(view: &Tensor, arena: &Tensor, offset: usize) -> bool {
    view.data_ptr() as usize == arena.data_ptr() as usize + 4 * offset
}

#[test]
fn shards_view_one_arena_with_one_optimizer_per_kind() {
    let e = engine(32, 1 << 40);
    assert_eq!(e.shards.len(), 4);
    assert_eq!(e.arena.groups.len(), 1);
    // Blocks 8-bit, the embedding and the head 32-bit: two optimizers.
    let e = engine(8, 10_000);
    assert_eq!(e.arena.groups.len(), 2);
    let groups: Vec<usize> = e.shards.iter().map(|s| s.group).collect();
    assert_eq!(groups, [0, 1, 1, 0]);
    let total: usize = e.shards.iter().map(|s| s.layout.shard_len).sum();
    assert_eq!(e.arena.master.numel(), total);
    for s in &e.shards {
        assert!(views(&s.master, &e.arena.master, s.offset));
        assert!(views(&s.grad, &e.arena.grad, s.offset));
        assert!(views(&s.compute, &e.arena.master, s.offset));
    }
}

#[test]
fn a_step_of_the_arenas_is_seen_through_the_shards() {
    for (bits, moment) in [(32, "exp_avg"), (8, "exp_avg_absmax")] {
        let mut e = engine(bits, 10_000);
        let before: Vec<Tensor> = e.shards.iter().map(|s| s.master.copy()).collect();
        // A gradient of 1 on block 0 only, accumulated through its view.
        let _ = e.shards[1].grad.fill_(1.0);
        e.step(1e-3, 0.0).unwrap();
        let delta = |u: usize| (&e.shards[u].master - &before[u]).abs_();
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
        assert_eq!(e.shards[1].grad.abs().max().double_value(&[]), 0.0);
    }
}
