//! How a unit's parameters are padded and split over ranks, shared by the
//! trainer's layout and the memory planner so that the plan counts the
//! bytes the engine allocates.
//!
//! A unit's P parameters are padded to `roundup(P, ALIGN * W)` and each of
//! the W ranks owns an equal slice. Every shard starts on a multiple of
//! [`ALIGN`], a whole number of 8-bit optimizer blocks ([`BLOCK_8BIT`]), so
//! the blocks do not depend on the world size.

/// Alignment of every shard start, in elements.
pub const ALIGN: usize = 256;
/// Elements per 8-bit optimizer block (one f32 absmax per state per block).
pub const BLOCK_8BIT: usize = 256;
/// Most elements one piece of the optimizer step updates (a whole number of
/// 8-bit blocks: 4 MiB of f32), so that its temporaries, and with offload
/// the gradient it copies to the host, do not grow with the model.
pub const STEP_CHUNK: usize = 1 << 20;

/// Elements per rank of a unit of `params` parameters at world size `world`
/// (at least one aligned block, so that an empty unit still has a shard).
pub fn shard_len(params: u64, world: u64) -> u64 {
    let align = ALIGN as u64;
    params.div_ceil(align * world).max(1) * align
}

/// Whether a unit of `params` parameters keeps 8-bit optimizer state
/// (`optimizer.bits: 8`): small units (norms, biases of a tiny model) stay
/// 32-bit below `min_8bit_size` parameters.
pub fn eight_bit(bits: u32, min_8bit_size: u64, params: u64) -> bool {
    bits == 8 && params >= min_8bit_size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_whole_blocks_that_cover_the_unit() {
        assert_eq!(ALIGN % BLOCK_8BIT, 0);
        assert_eq!(
            shard_len(0, 4),
            ALIGN as u64,
            "an empty unit still has a shard"
        );
        for (params, world) in [(1, 1), (807, 2), (46208, 2), (16384, 3)] {
            let len = shard_len(params, world);
            assert_eq!(len % ALIGN as u64, 0);
            assert!(len * world >= params && len * world - params < ALIGN as u64 * world);
        }
    }
}
