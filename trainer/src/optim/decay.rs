//! Weight-decay groups within a flat shard.
//!
//! transformers' Trainer decays the weight matrices only: biases and norm
//! weights are left out. In a flat shard that is a
//! set of element ranges, built once from the unit's layout; the optimizers
//! multiply exactly those ranges by `1 - lr * weight_decay`.

use tch::Tensor;

/// Whether a parameter of this shape is decayed when norms and biases are
/// not: the matrices (two or more dimensions). For the supported families
/// this is exactly transformers' `Trainer.get_decay_parameter_names`
/// (embeddings, projections and the head; never `*bias`, `*norm.weight`).
pub fn is_decayed(shape: &[i64]) -> bool {
    shape.len() >= 2
}

/// The decayed elements of one shard: sorted, disjoint `[start, end)` ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecayMask {
    ranges: Vec<(usize, usize)>,
}

impl DecayMask {
    /// Every element of a shard of `len` elements is decayed.
    pub fn all(len: usize) -> DecayMask {
        DecayMask::from_ranges([(0, len)])
    }

    /// The elements in `ranges` (sorted, disjoint; adjacent ones are merged,
    /// empty ones dropped).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (usize, usize)>) -> DecayMask {
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (a, b) in ranges.into_iter().filter(|(a, b)| a < b) {
            match merged.last_mut() {
                Some(last) if last.1 == a => last.1 = b,
                _ => merged.push((a, b)),
            }
        }
        DecayMask { ranges: merged }
    }

    /// The decayed ranges.
    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges
    }

    /// Number of decayed elements.
    pub fn decayed(&self) -> usize {
        self.ranges.iter().map(|(a, b)| b - a).sum()
    }

    /// The decayed ranges moved `by` elements on (for a shard placed at
    /// offset `by` of a longer flat vector).
    pub fn shifted(&self, by: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.ranges.iter().map(move |&(a, b)| (a + by, b + by))
    }

    /// Multiplies the decayed elements of flat `x` by `factor`, in place.
    pub fn scale(&self, x: &mut Tensor, factor: f64) {
        self.scale_at(0, x, factor)
    }

    /// [`DecayMask::scale`] of a flat `x` that holds elements
    /// `[start, start + x.numel())` of the masked vector.
    pub fn scale_at(&self, start: usize, x: &mut Tensor, factor: f64) {
        if factor == 1.0 {
            return;
        }
        let end = start + x.numel();
        for &(a, b) in &self.ranges {
            let (a, b) = (a.max(start), b.min(end));
            if a >= b {
                continue;
            }
            if a == start && b == end {
                let _ = x.g_mul_scalar_(factor);
            } else {
                let (at, n) = ((a - start) as i64, (b - a) as i64);
                let _ = x.narrow(0, at, n).g_mul_scalar_(factor);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_exactly_the_decayed_ranges() {
        let mask = DecayMask::from_ranges([(0, 2), (2, 3), (5, 5), (6, 8)]);
        assert_eq!(mask.ranges(), &[(0, 3), (6, 8)]);
        assert_eq!(mask.decayed(), 5);
        let mut x = Tensor::ones([8], (tch::Kind::Float, tch::Device::Cpu));
        mask.scale(&mut x, 0.5);
        let got = Vec::<f32>::try_from(&x).unwrap();
        assert_eq!(got, [0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 0.5, 0.5]);
        // Elements [2, 7) of the same vector.
        let mut part = Tensor::ones([5], (tch::Kind::Float, tch::Device::Cpu));
        mask.scale_at(2, &mut part, 0.5);
        let got = Vec::<f32>::try_from(&part).unwrap();
        assert_eq!(got, [0.5, 1.0, 1.0, 1.0, 0.5]);
        let moved: Vec<_> = mask.shifted(256).collect();
        assert_eq!(moved, [(256, 259), (262, 264)]);
    }

    #[test]
    fn matrices_are_decayed_vectors_are_not() {
        assert!(is_decayed(&[4, 8]));
        assert!(!is_decayed(&[8]));
    }
}
