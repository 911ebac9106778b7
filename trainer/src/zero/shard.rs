//! What a rank holds for one unit: its slice of the fp32 master weights, the
//! optimizer state, the fp32 gradient accumulator, and the compute-dtype copy
//! that is all-gathered; where each lives is the [`Placement`]'s choice.

use super::layout::Layout;
use super::placement::Placement;
use crate::optim::ShardOptimizer;
use tch::{Kind, Tensor};

/// One unit's shard on this rank.
pub struct UnitShard {
    pub layout: Layout,
    /// fp32 master weights, `[shard_len]` (padding stays zero).
    pub master: Tensor,
    /// fp32 gradient accumulator, `[shard_len]`, on the device.
    pub grad: Tensor,
    /// Compute-dtype copy of `master` on the device, the input of
    /// all-gathers (the master itself when it is fp32 on the device).
    pub compute: Tensor,
    /// Whether `compute` is `master` itself.
    shared: bool,
    /// The optimizer and its state for this shard.
    pub opt: Box<dyn ShardOptimizer>,
}

impl UnitShard {
    /// A shard holding `master` (`[shard_len]`), updated by `opt`, placed by `at`.
    pub fn new(
        layout: Layout,
        master: Tensor,
        dtype: Kind,
        at: &Placement,
        opt: Box<dyn ShardOptimizer>,
    ) -> UnitShard {
        let master = at.master(master);
        assert_eq!(master.size(), vec![layout.shard_len as i64]);
        let copy = at.compute(&master, dtype);
        let grad = Tensor::zeros([layout.shard_len as i64], (Kind::Float, at.device));
        UnitShard {
            layout,
            grad,
            shared: copy.is_none(),
            compute: copy.unwrap_or_else(|| master.shallow_clone()),
            opt,
            master,
        }
    }

    /// Bytes of model state this shard holds: fp32 master and gradient,
    /// the compute copy (none when shared), and the optimizer state.
    pub fn state_bytes(&self) -> u64 {
        let n = self.layout.shard_len as u64;
        let compute = if self.shared {
            0
        } else {
            self.compute.kind().elt_size_in_bytes() as u64
        };
        n * (4 + 4 + compute) + self.opt.state_bytes()
    }

    /// Copies `master` into the compute-dtype shard after an update.
    pub fn refresh(&mut self, at: &Placement) {
        if !self.shared {
            at.refresh(&mut self.compute, &self.master);
        }
    }
}
