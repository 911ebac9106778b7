//! AdamW with blockwise 8-bit state, as bitsandbytes' `AdamW8bit` computes
//! it (the `kOptimizerStatic8bit2StateBlockwise` kernel), on flat fp32
//! vectors.
//!
//! Both moments are stored as one byte per element plus one f32 absmax per
//! 256-element block (signed dynamic map for `exp_avg`, unsigned for
//! `exp_avg_sq`): about 2 bytes per parameter instead of 8. Shards start on
//! multiples of 256, so the blocks, and therefore every number, are the same
//! at every world size.

use super::quant::{QuantMap, BLOCK};
use super::{AdamW, DecayMask, ShardOptimizer, StatePiece};
use tch::{Device, Kind, Tensor};

/// One quantized moment: codes (u8, one per element) and block absmax (f32).
struct Moment {
    map: QuantMap,
    codes: Tensor,
    absmax: Tensor,
}

impl Moment {
    /// A moment of `len` elements equal to zero.
    fn zeros(signed: bool, len: usize, device: Device) -> Moment {
        let map = QuantMap::dynamic(signed, device);
        let codes = Tensor::full([len as i64], map.zero_code() as i64, (Kind::Uint8, device));
        let absmax = Tensor::zeros([(len / BLOCK) as i64], (Kind::Float, device));
        Moment { map, codes, absmax }
    }

    /// The codes and block absmax of elements `[start, start + len)`
    /// (whole blocks).
    fn part(&self, start: usize, len: usize) -> (Tensor, Tensor) {
        let whole = start.is_multiple_of(BLOCK) && len.is_multiple_of(BLOCK);
        assert!(whole, "whole 8-bit blocks");
        let absmax = self
            .absmax
            .narrow(0, (start / BLOCK) as i64, (len / BLOCK) as i64);
        (self.codes.narrow(0, start as i64, len as i64), absmax)
    }

    /// The values of elements `[start, start + len)`.
    fn value(&self, start: usize, len: usize) -> Tensor {
        let (codes, absmax) = self.part(start, len);
        self.map.dequantize(&codes, &absmax)
    }

    /// Quantizes `x` into elements `[start, start + x.numel())` of the
    /// existing tensors (views from `state()` stay live).
    fn store(&mut self, start: usize, x: &Tensor) {
        let (codes, absmax) = self.map.quantize(x);
        let (mut to_codes, mut to_absmax) = self.part(start, x.numel());
        to_codes.copy_(&codes);
        to_absmax.copy_(&absmax);
    }
}

/// AdamW whose moments are 8-bit blockwise-quantized.
///
/// One step, per element, in f32 (bitsandbytes' order of operations):
/// dequantize `m` and `v`; `v = v*beta2 + (1-beta2)*g*g`,
/// `m = m*beta1 + (1-beta1)*g`; `p += -lr*c2/c1 * m / (sqrt(v) + c2*eps)`
/// with `c1 = 1 - beta1^t`, `c2 = sqrt(1 - beta2^t)`; then decoupled weight
/// decay `p *= 1 - lr*wd` (after the update, decayed elements only); re-quantize `m` and `v` with
/// fresh block absmax. Where the gradient is NaN or infinite, the parameter
/// is left untouched and that element's `m` and `v` are reset to 0.
pub struct Adam8bit {
    hyper: AdamW,
    m: Moment,
    v: Moment,
    /// The elements weight decay applies to.
    decay: DecayMask,
}

impl Adam8bit {
    /// Zero moments for a shard of `len` elements (a multiple of 256): absmax
    /// 0 and the codes of the value 0 (bitsandbytes starts from code 0, which
    /// with absmax 0 decodes to -0.0; +0.0 keeps the sign fix from ever
    /// seeing a negative zero). Weight decay applies to the elements of `decay`.
    pub fn new(hyper: AdamW, len: usize, device: Device, decay: DecayMask) -> Adam8bit {
        assert_eq!(len % BLOCK, 0, "8-bit state needs shards of whole blocks");
        Adam8bit {
            hyper,
            m: Moment::zeros(true, len, device),
            v: Moment::zeros(false, len, device),
            decay,
        }
    }
}

impl ShardOptimizer for Adam8bit {
    fn step_at(&mut self, start: usize, param: &mut Tensor, grad: &Tensor, lr: f64, t: u64) {
        let h = &self.hyper;
        let len = param.numel();
        let finite = grad.isfinite();
        let v = self.v.value(start, len) * h.beta2 + grad * (1.0 - h.beta2) * grad;
        let m = self.m.value(start, len) * h.beta1 + grad * (1.0 - h.beta1);
        let v = v.where_scalarother(&finite, 0.0);
        let m = m.where_scalarother(&finite, 0.0);
        let c1 = 1.0 - h.beta1.powf(t as f64);
        let c2 = (1.0 - h.beta2.powf(t as f64)).sqrt();
        let step_size = -lr * c2 / c1;
        let mut p = &*param + (&m / (v.sqrt() + c2 * h.eps)) * step_size;
        self.decay
            .scale_at(start, &mut p, 1.0 - lr * h.weight_decay);
        param.copy_(&p.where_self(&finite, param));
        self.m.store(start, &m);
        self.v.store(start, &v);
    }

    fn state(&self) -> Vec<StatePiece> {
        let piece = |name, tensor: &Tensor, granularity| StatePiece {
            name,
            tensor: tensor.shallow_clone(),
            granularity,
        };
        vec![
            piece("exp_avg_codes", &self.m.codes, 1),
            piece("exp_avg_absmax", &self.m.absmax, BLOCK),
            piece("exp_avg_sq_codes", &self.v.codes, 1),
            piece("exp_avg_sq_absmax", &self.v.absmax, BLOCK),
        ]
    }

    fn state_bytes(&self) -> u64 {
        let codes = self.m.codes.numel() + self.v.codes.numel();
        let absmax = self.m.absmax.numel() + self.v.absmax.numel();
        (codes + 4 * absmax) as u64
    }
}
