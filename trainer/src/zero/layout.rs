//! How a unit's parameters are flattened, padded and split over ranks.
//!
//! A unit's P parameters are laid end to end in a fixed order, padded to
//! `L = W * shard_len(P, W)` (`runconfig::model::shard`, which the memory
//! planner counts too), and rank r owns `[r*L/W, (r+1)*L/W)`. Every shard
//! starts on a multiple of [`ALIGN`], so the 8-bit optimizer's blocks do not
//! depend on the world size, and a checkpoint stores the unpadded range.

use crate::optim::{self, DecayMask};
use runconfig::model::shard::shard_len;
pub use runconfig::model::shard::ALIGN;

/// One parameter's place in its unit's flat vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// Hugging Face tensor name.
    pub name: String,
    pub shape: Vec<i64>,
    /// First element in the flat vector.
    pub offset: usize,
    pub numel: usize,
}

/// The flat layout of one unit for one world size.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub slots: Vec<Slot>,
    /// Real parameters (P).
    pub numel: usize,
    /// Padded length (L).
    pub padded: usize,
    /// Elements per rank (L / W).
    pub shard_len: usize,
    pub rank: usize,
    pub world: usize,
}

impl Layout {
    /// Lays out `params` (name, shape) for `rank` of `world`.
    pub fn new(params: &[(String, Vec<i64>)], rank: usize, world: usize) -> Layout {
        let mut offset = 0;
        let slots: Vec<Slot> = params
            .iter()
            .map(|(name, shape)| {
                let numel = shape.iter().product::<i64>() as usize;
                let s = Slot {
                    name: name.clone(),
                    shape: shape.clone(),
                    offset,
                    numel,
                };
                offset += numel;
                s
            })
            .collect();
        let shard_len = shard_len(offset as u64, world as u64) as usize;
        Layout {
            slots,
            numel: offset,
            padded: shard_len * world,
            shard_len,
            rank,
            world,
        }
    }

    /// First flat element this rank owns.
    pub fn shard_start(&self) -> usize {
        self.rank * self.shard_len
    }

    /// The real (unpadded) flat range this rank owns: `[start, end)`.
    pub fn owned(&self) -> (usize, usize) {
        let start = self.shard_start().min(self.numel);
        (start, (self.shard_start() + self.shard_len).min(self.numel))
    }

    /// For each parameter overlapping this rank's shard: (slot, first element
    /// within the parameter, count, position within the shard).
    pub fn pieces(&self) -> Vec<(&Slot, usize, usize, usize)> {
        let (start, end) = self.owned();
        self.slots
            .iter()
            .filter_map(|s| {
                let (a, b) = (s.offset.max(start), (s.offset + s.numel).min(end));
                (a < b).then(|| (s, a - s.offset, b - a, a - self.shard_start()))
            })
            .collect()
    }

    /// The elements of this rank's shard that weight decay applies to: all
    /// of them with `norms_and_biases`, else the matrices'
    /// ([`optim::is_decayed`]).
    pub fn decay_mask(&self, norms_and_biases: bool) -> DecayMask {
        if norms_and_biases {
            return DecayMask::all(self.shard_len);
        }
        DecayMask::from_ranges(
            self.pieces()
                .into_iter()
                .filter(|(slot, ..)| optim::is_decayed(&slot.shape))
                .map(|(_, _, count, at)| (at, at + count)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(String, Vec<i64>)> {
        vec![
            ("a".into(), vec![3, 100]),
            ("b".into(), vec![7]),
            ("c".into(), vec![50, 10]),
        ]
    }

    #[test]
    fn shards_are_aligned_and_cover_the_unit_once() {
        for world in [1, 2, 3, 4, 8] {
            let mut covered = vec![0u8; 807];
            for rank in 0..world {
                let l = Layout::new(&params(), rank, world);
                assert_eq!(l.numel, 807);
                assert_eq!(l.padded % (ALIGN * world), 0);
                assert_eq!(l.shard_start() % ALIGN, 0);
                for (slot, first, count, at) in l.pieces() {
                    assert!(at + count <= l.shard_len);
                    for i in 0..count {
                        covered[slot.offset + first + i] += 1;
                    }
                }
            }
            assert!(covered.iter().all(|&c| c == 1), "world {world}");
        }
    }

    #[test]
    fn the_decay_mask_covers_the_matrices_of_the_shard() {
        // a: [0, 300) matrix, b: [300, 307) vector, c: [307, 807) matrix.
        let ranges = |rank, world, all| {
            let l = Layout::new(&params(), rank, world);
            l.decay_mask(all).ranges().to_vec()
        };
        assert_eq!(ranges(0, 1, false), [(0, 300), (307, 807)]);
        assert_eq!(ranges(0, 1, true), [(0, 1024)]);
        assert_eq!(ranges(0, 2, false), [(0, 300), (307, 512)]);
        assert_eq!(ranges(1, 2, false), [(0, 807 - 512)]);
    }
}
