//! Blockwise 8-bit quantization with the dynamic (tree) maps of Dettmers et
//! al. 2021, "8-bit Optimizers via Block-wise Quantization", as bitsandbytes
//! implements it.
//!
//! A flat f32 tensor is cut into blocks of [`BLOCK`] elements; each block
//! keeps its absolute maximum (f32) and one byte per element: the index of
//! the map value nearest to `x / absmax`. Ties go to the even index (that is
//! where the binary search of bitsandbytes' CUDA kernel lands), and a block
//! whose absmax is 0 gives index 0 (0/0 is NaN there); signed maps then get
//! bitsandbytes' sign fix. Dequantization is `map[code] * absmax`.

use tch::{Device, Kind, Tensor};

/// Elements per quantization block: the planner counts the same blocks.
pub use runconfig::model::shard::BLOCK_8BIT as BLOCK;

/// The 256 values of bitsandbytes' `create_dynamic_map(signed)` (with its
/// defaults `max_exponent_bits=7, total_bits=8`), sorted ascending.
///
/// For each exponent `e` in 0..7 the map holds the midpoints of an evenly
/// spaced f32 grid over [0.1, 1] (`2^e` points signed, `2^(e+1)` unsigned),
/// scaled by `10^(e-6)`, and their negatives when signed; then 0 and 1. The
/// grid is built with libtorch's `linspace` and the products are f32, as in
/// the Python original, so the values are equal bit for bit.
pub fn dynamic_map(signed: bool) -> Vec<f32> {
    const SCALES: [f64; 7] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0];
    let mut data: Vec<f32> = Vec::with_capacity(256);
    for (e, &scale) in SCALES.iter().enumerate() {
        let points = if signed {
            (1 << e) + 1
        } else {
            (1 << (e + 1)) + 1
        };
        let grid = Tensor::linspace(0.1, 1.0, points, (Kind::Float, Device::Cpu));
        let means = (grid.narrow(0, 0, points - 1) + grid.narrow(0, 1, points - 1)) / 2.0;
        data.extend(Vec::<f32>::try_from(&means * scale).expect("f32 map values"));
        if signed {
            data.extend(Vec::<f32>::try_from(&means * -scale).expect("f32 map values"));
        }
    }
    data.push(0.0);
    data.push(1.0);
    assert_eq!(data.len(), 256, "the dynamic map has 256 values");
    data.sort_by(f32::total_cmp);
    data
}

/// A quantization map on a device, with what quantizing against it needs.
pub struct QuantMap {
    /// The 256 map values, ascending, f32.
    pub values: Tensor,
    /// f32 midpoints between neighbouring values, `(v[k] + v[k+1]) * 0.5`.
    mids: Tensor,
    /// Whether each value has its sign bit set.
    negative: Tensor,
    /// Signed maps get bitsandbytes' sign fix (see [`QuantMap::quantize`]).
    signed: bool,
    /// `values`, and `mids` followed by +inf, in host memory (the CPU loop).
    host_values: [f32; 256],
    host_mids: [f32; 256],
}

impl QuantMap {
    /// bitsandbytes' dynamic map (signed for first moments, unsigned for
    /// second moments) on `device`.
    pub fn dynamic(signed: bool, device: Device) -> QuantMap {
        let host_values = dynamic_map(signed);
        let values = Tensor::from_slice(&host_values[..]);
        let mids = (values.narrow(0, 0, 255) + values.narrow(0, 1, 255)) * 0.5;
        QuantMap {
            negative: values.signbit().to_device(device),
            host_mids: Vec::<f32>::try_from(&mids)
                .expect("f32 midpoints")
                .into_iter()
                .chain([f32::INFINITY])
                .collect::<Vec<_>>()
                .try_into()
                .expect("256 entries"),
            host_values: host_values.try_into().expect("256 values"),
            values: values.to_device(device),
            mids: mids.to_device(device),
            signed,
        }
    }

    /// The index of the value 0 (the code of an all-zero state).
    pub fn zero_code(&self) -> u8 {
        if self.signed {
            127
        } else {
            0
        }
    }

    /// Quantizes flat f32 `x` (any length; the last block may be partial)
    /// blockwise: returns the codes (u8, like `x`) and the absmax of each
    /// block (f32, `ceil(len / 256)`).
    ///
    /// Nearest map value to `x / absmax`, ties to the even index; NaN (an
    /// all-zero block) gives index 0. Signed maps then apply bitsandbytes'
    /// sign fix: where the chosen value's sign bit differs from `x`'s, the
    /// code moves one step up (x > 0) or down (otherwise, wrapping like a
    /// byte), so a small momentum never flips sign.
    ///
    /// On the CPU this runs as a plain loop ([`QuantMap::quantize_cpu`]);
    /// elsewhere as tensor operations ([`QuantMap::quantize_tensor`]). Both
    /// give the same codes.
    pub fn quantize(&self, x: &Tensor) -> (Tensor, Tensor) {
        if x.device() == Device::Cpu {
            self.quantize_cpu(x)
        } else {
            self.quantize_tensor(x)
        }
    }

    /// [`QuantMap::quantize`] as a loop over the elements, on the CPU.
    pub fn quantize_cpu(&self, x: &Tensor) -> (Tensor, Tensor) {
        let xs = Vec::<f32>::try_from(x.to_device(Device::Cpu).reshape([-1])).expect("f32 state");
        let (values, mids) = (&self.host_values, &self.host_mids);
        let mut codes = vec![0u8; xs.len()];
        let mut absmax = Vec::with_capacity(xs.len().div_ceil(BLOCK));
        for (block, out) in xs.chunks(BLOCK).zip(codes.chunks_mut(BLOCK)) {
            // NaN propagates, as in `amax`.
            let amax = block.iter().fold(0f32, |a, v| {
                if a.is_nan() || v.is_nan() {
                    f32::NAN
                } else {
                    a.max(v.abs())
                }
            });
            absmax.push(amax);
            for (&v, code) in block.iter().zip(out) {
                let s = v / amax;
                let mut idx = if s.is_nan() {
                    0
                } else {
                    // Branch-free binary search: the number of midpoints below s
                    // (`host_mids` ends with +inf, so 256 entries).
                    let mut below = 0;
                    for half in [128, 64, 32, 16, 8, 4, 2, 1] {
                        below += half * usize::from(mids[(below + half - 1) & 255] < s);
                    }
                    below + usize::from(below < 255 && s == mids[below & 255] && below % 2 == 1)
                };
                if self.signed && values[idx & 255].is_sign_negative() != v.is_sign_negative() {
                    idx = (if v > 0.0 { idx + 1 } else { idx + 255 }) % 256;
                }
                *code = idx as u8;
            }
        }
        let device = x.device();
        (
            Tensor::from_slice(&codes).to_device(device),
            Tensor::from_slice(&absmax).to_device(device),
        )
    }

    /// [`QuantMap::quantize`] as tensor operations (any device).
    pub fn quantize_tensor(&self, x: &Tensor) -> (Tensor, Tensor) {
        let n = x.numel() as i64;
        let len = (n as usize).div_ceil(BLOCK) as i64 * BLOCK as i64;
        let padded = if len == n {
            x.reshape([-1])
        } else {
            x.reshape([-1]).constant_pad_nd([0, len - n])
        };
        let blocks = padded.view([-1, BLOCK as i64]);
        let absmax = blocks.abs().amax([1], false);
        let scaled = (&blocks / absmax.unsqueeze(1)).view([-1]);
        let mut idx = scaled.searchsorted(&self.mids, false, false, "left", None::<Tensor>);
        // `searchsorted` counts the midpoints below x: on a midpoint it picks
        // the lower neighbour, so step up where that one is odd.
        let on_mid = scaled.eq_tensor(&self.mids.index_select(0, &idx.clamp_max(254)));
        let odd = idx.remainder(2).eq(1);
        idx += on_mid.logical_and(&odd).to_kind(Kind::Int64);
        let idx = idx.masked_fill(&scaled.isnan(), 0);
        let idx = if self.signed {
            let flip = self
                .negative
                .index_select(0, &idx)
                .ne_tensor(&padded.signbit());
            let dir = padded.gt(0.0).to_kind(Kind::Int64) * 2 - 1;
            (idx + flip.to_kind(Kind::Int64) * dir).remainder(256)
        } else {
            idx
        };
        (idx.narrow(0, 0, n).to_kind(Kind::Uint8), absmax)
    }

    /// `values[codes] * absmax` of each element's block: flat f32 like `codes`.
    pub fn dequantize(&self, codes: &Tensor, absmax: &Tensor) -> Tensor {
        let n = codes.numel() as i64;
        let len = absmax.numel() as i64 * BLOCK as i64;
        let vals = self.values.index_select(0, &codes.to_kind(Kind::Int64));
        let vals = if len == n {
            vals
        } else {
            vals.constant_pad_nd([0, len - n])
        };
        (vals.view([-1, BLOCK as i64]) * absmax.unsqueeze(1))
            .view([-1])
            .narrow(0, 0, n)
    }
}
