//! What a rank holds for one unit: its slice of the fp32 master weights,
//! the fp32 gradient accumulator, and the compute-dtype copy that is
//! all-gathered, as views of the rank's arenas ([`super::arena`]); its
//! optimizer state is a view of its group's ([`super::arena::Arena::state_of`]).

use super::layout::Layout;
use tch::Tensor;

/// One unit's shard on this rank.
pub struct UnitShard {
    pub layout: Layout,
    /// fp32 master weights, `[shard_len]` (padding stays zero).
    pub master: Tensor,
    /// fp32 gradient accumulator, `[shard_len]`, on the device.
    pub grad: Tensor,
    /// Compute-dtype copy of `master` on the device, the input of
    /// all-gathers (a view of the master itself when it is fp32 on the device).
    pub compute: Tensor,
    /// First element of the shard in the arenas.
    pub offset: usize,
    /// Index of the optimizer group that updates it.
    pub group: usize,
}
