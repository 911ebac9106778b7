//! Double quantisation of NF4 block scales, as bitsandbytes'
//! `quantize_4bit(..., compress_statistics=True)` does it on the CPU.
//!
//! The f32 absmax of every NF4 block loses its mean (the `offset`), and the
//! rest is quantised blockwise, [`NESTED_BLOCK`] values per block, to one
//! byte against the signed dynamic map: each block keeps its own f32 absmax
//! (the `scales`), and each value the code of `v / scale` in the map.
//!
//! The code is not the nearest map value: bitsandbytes' CPU kernel
//! (`quantize_cpu_impl`, csrc/cpu_ops.cpp) maps `v * (1 / scale)`, clamped to
//! [-1, 1], onto a grid of 65536 points, `trunc((s + 1) * 0.5 * 65535 + 0.5)`,
//! and reads the code from a table built for those points (the number of
//! map midpoints strictly below each point). Near a midpoint, and for the
//! map values closer together than the grid, that differs from the
//! nearest code. A block whose absmax is 0 gets code 0 throughout.
//! Dequantisation is `map[code] * scale + offset`, in f32.

use std::sync::OnceLock;

use tch::{Device, Kind, Tensor};

use crate::optim::quant::dynamic_map;

/// Absmax values per block of the second quantisation.
pub const NESTED_BLOCK: i64 = 256;

/// Points of the lookup grid over [-1, 1].
const GRID: usize = 65536;

/// The quantised absmax: one code per NF4 block, one scale per
/// [`NESTED_BLOCK`] codes, and the mean that was subtracted first.
pub struct NestedAbsmax {
    pub codes: Tensor,
    pub scales: Tensor,
    pub offset: f32,
}

/// The signed dynamic map's code for each of the [`GRID`] points
/// `-1 + 2 i / 65535`, in f32 as bitsandbytes' `build_quantize_lut` computes it.
fn grid_codes() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let map = dynamic_map(true);
        let mids: Vec<f32> = map.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
        let mut code = 0usize;
        (0..GRID)
            .map(|i| {
                let val = -1.0f32 + (2.0f32 * i as f32) / (GRID - 1) as f32;
                while code < mids.len() && mids[code] < val {
                    code += 1;
                }
                code as u8
            })
            .collect()
    })
}

/// Quantises the f32 NF4 block scales `absmax` (1-D).
pub fn quantize(absmax: &Tensor) -> NestedAbsmax {
    let device = absmax.device();
    let offset = absmax.mean(Kind::Float);
    let centred = absmax - &offset;
    let len = centred.size()[0];
    let blocks = scale_blocks(len);
    let grid = centred
        .constant_pad_nd([0, blocks * NESTED_BLOCK - len])
        .view([blocks, NESTED_BLOCK]);
    let scales = grid.abs().amax([-1], false);
    let live = scales.ne(0.0).view([-1, 1]);
    let zero = Tensor::zeros([1], (Kind::Float, device));
    let inv = scales.reciprocal().view([-1, 1]).where_self(&live, &zero);
    let s = (&grid * inv).clamp(-1.0, 1.0);
    let point = ((((s + 1.0) * 0.5) * (GRID - 1) as f64) + 0.5).to_kind(Kind::Int64);
    let table = Tensor::from_slice(grid_codes()).to_device(device);
    let codes = table
        .index_select(0, &point.reshape([-1]))
        .view([blocks, NESTED_BLOCK])
        .where_self(&live, &Tensor::zeros([1], (Kind::Uint8, device)));
    NestedAbsmax {
        codes: codes.reshape([-1]).narrow(0, 0, len),
        scales,
        offset: offset.double_value(&[]) as f32,
    }
}

/// The f32 absmax of every NF4 block: `map[code] * scale + offset`.
pub fn dequantize(codes: &Tensor, scales: &Tensor, offset: f32) -> Tensor {
    let device = codes.device();
    let offset = Tensor::from_slice(&[offset]).to_device(device);
    dequantize_with(codes, scales, &offset, &map(device))
}

/// The signed dynamic map, f32 `[256]` on `device`: what the codes stand for.
pub fn map(device: Device) -> Tensor {
    Tensor::from_slice(&dynamic_map(true)).to_device(device)
}

/// [`dequantize`] with the offset (f32 `[1]`) and the [`map`] already on
/// the codes' device.
pub fn dequantize_with(codes: &Tensor, scales: &Tensor, offset: &Tensor, map: &Tensor) -> Tensor {
    let len = codes.size()[0];
    let blocks = scales.size()[0];
    let values = map
        .index_select(0, &codes.to_kind(Kind::Int64))
        .constant_pad_nd([0, blocks * NESTED_BLOCK - len])
        .view([blocks, NESTED_BLOCK]);
    ((values * scales.view([-1, 1]))
        .reshape([-1])
        .narrow(0, 0, len))
        + offset
}

/// The number of scales that `codes` absmax codes have.
pub fn scale_blocks(codes: i64) -> i64 {
    (codes + NESTED_BLOCK - 1) / NESTED_BLOCK
}

#[cfg(test)]
mod tests {
    #[test]
    fn grid_ends_at_the_extreme_codes() {
        let t = super::grid_codes();
        assert_eq!((t[0], t[t.len() - 1]), (0, 255));
    }

    #[test]
    fn zero_block_gets_code_zero() {
        let q = super::quantize(&tch::Tensor::from_slice(&[2.0f32; 300]));
        assert_eq!(q.offset, 2.0);
        assert_eq!(q.codes.eq(0).all().int64_value(&[]), 1);
        assert_eq!(q.scales.size(), [2]);
    }
}
