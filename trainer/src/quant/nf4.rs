//! NF4 (4-bit NormalFloat, Dettmers et al. 2023, "QLoRA") in bitsandbytes'
//! layout: what `bitsandbytes.functional.quantize_4bit(t, blocksize,
//! quant_type="nf4", compress_statistics)` and `dequantize_4bit` compute on
//! the CPU (bitsandbytes 0.50), as tensor operations on the input's device.
//!
//! Quantisation: the input, flattened and cast to f32, is cut into blocks of
//! `blocksize`; each keeps its absolute maximum. Full blocks are scaled by
//! `x * (1 / max(absmax, 1e-38))`, the last partial block by
//! `x / max(absmax, 1e-38)` (and stores that clamped absmax: an all-zero
//! partial block keeps 1e-38, an all-zero full block 0), then clamped to
//! [-1, 1]. The code is the number of midpoints `(c[k] + c[k+1]) / 2` of the
//! 16 NF4 values strictly below the scaled value (`torch.bucketize`): a
//! value exactly on a midpoint takes the lower code. Two codes share a byte,
//! the first element in the high nibble; an odd length pads a last low
//! nibble with the code of 0.0 (7). With `double_quant` the absmax goes
//! through [`super::nested`].
//!
//! Dequantisation: `code[nibble] * absmax` in f32, then rounded to the
//! requested kind.

use anyhow::{bail, ensure, Result};
use tch::{Device, Kind, Tensor};

use super::nested;

/// The block sizes bitsandbytes accepts.
pub const BLOCKSIZES: [i64; 8] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

/// The 16 NF4 values (`get_4bit_type("nf4")`), ascending; the literals are
/// bitsandbytes' own, each the f32 nearest to it.
#[allow(clippy::excessive_precision)]
pub const NF4_CODE: [f32; 16] = [
    -1.0,
    -0.696_192_800_998_687_7,
    -0.525_073_051_452_636_7,
    -0.394_917_488_098_144_53,
    -0.284_441_381_692_886_35,
    -0.184_773_430_228_233_34,
    -0.091_050_036_251_544_95,
    0.0,
    0.079_580_299_556_255_34,
    0.160_930_201_411_247_25,
    0.246_112_301_945_686_34,
    0.337_915_241_718_292_24,
    0.440_709_829_330_444_34,
    0.562_617_003_917_694_1,
    0.722_956_836_223_602_3,
    1.0,
];

/// A tensor in NF4.
pub struct Nf4 {
    /// u8 `[ceil(n / 2)]`: element `2i` in the high nibble of byte `i`.
    pub packed: Tensor,
    /// One scale per block.
    pub absmax: Absmax,
    /// The shape of the original tensor.
    pub shape: Vec<i64>,
    pub blocksize: i64,
}

/// The per-block scales of an [`Nf4`] tensor.
pub enum Absmax {
    /// f32 `[blocks]`.
    Plain(Tensor),
    /// Double quantised (see [`super::nested`]): u8 `codes [blocks]`, f32
    /// `scales [ceil(blocks / 256)]`, and the subtracted mean.
    Nested {
        codes: Tensor,
        scales: Tensor,
        offset: f32,
    },
}

impl Absmax {
    /// The f32 scale of every block.
    pub fn values(&self) -> Tensor {
        match self {
            Absmax::Plain(a) => a.shallow_clone(),
            Absmax::Nested {
                codes,
                scales,
                offset,
            } => nested::dequantize(codes, scales, *offset),
        }
    }

    /// How many blocks these scales cover.
    pub fn blocks(&self) -> i64 {
        match self {
            Absmax::Plain(a) => a.numel() as i64,
            Absmax::Nested { codes, .. } => codes.numel() as i64,
        }
    }
}

impl Nf4 {
    /// Elements of the original tensor.
    pub fn numel(&self) -> i64 {
        self.shape.iter().product()
    }

    /// Blocks of `blocksize` elements (the last may be partial).
    pub fn blocks(&self) -> i64 {
        (self.numel() + self.blocksize - 1) / self.blocksize
    }
}

fn check_kind(kind: Kind, what: &str) -> Result<()> {
    ensure!(
        matches!(kind, Kind::Float | Kind::BFloat16 | Kind::Half),
        "NF4 {what} supports f32, bf16 and f16 only, not {kind:?}"
    );
    Ok(())
}

fn check_blocksize(blocksize: i64) -> Result<()> {
    ensure!(
        BLOCKSIZES.contains(&blocksize),
        "NF4 blocksize {blocksize} is not one of {BLOCKSIZES:?}"
    );
    Ok(())
}

/// The midpoints between neighbouring NF4 values, f32.
fn bounds() -> Vec<f32> {
    NF4_CODE.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
}

/// Per-block absmax and the scaled values in [-1, 1] of flat f32 `x`.
fn scale_blocks(x: &Tensor, blocksize: i64) -> (Tensor, Tensor) {
    let n = x.size()[0];
    let rem = n % blocksize;
    let full = n - rem;
    let (mut absmax, mut scaled) = (Vec::new(), Vec::new());
    if full > 0 {
        let blocks = x.narrow(0, 0, full).view([full / blocksize, blocksize]);
        let am = blocks.abs().amax([-1], false);
        let inv = am.clamp_min(1e-38).reciprocal().view([-1, 1]);
        scaled.push((blocks * inv).clamp(-1.0, 1.0).reshape([-1]));
        absmax.push(am);
    }
    if rem > 0 {
        let tail = x.narrow(0, full, rem);
        let am = tail.abs().max().clamp_min(1e-38);
        scaled.push((tail / &am).clamp(-1.0, 1.0));
        absmax.push(am.view([1]));
    }
    (Tensor::cat(&absmax, 0), Tensor::cat(&scaled, 0))
}

/// Quantises `t` (f32, bf16 or f16, any shape) to NF4 in blocks of
/// `blocksize`; `double_quant` also quantises the block scales.
pub fn quantize(t: &Tensor, blocksize: i64, double_quant: bool) -> Result<Nf4> {
    check_kind(t.kind(), "quantisation")?;
    check_blocksize(blocksize)?;
    if t.numel() == 0 {
        bail!(
            "cannot quantise an empty tensor (shape {:?}) to NF4",
            t.size()
        );
    }
    let device = t.device();
    let x = t.reshape([-1]).to_kind(Kind::Float);
    let (absmax, mut scaled) = scale_blocks(&x, blocksize);
    if scaled.size()[0] % 2 == 1 {
        scaled = scaled.constant_pad_nd([0, 1]);
    }
    let bounds = Tensor::from_slice(&bounds()).to_device(device);
    let pairs = scaled.bucketize(&bounds, false, false).view([-1, 2]);
    let packed = (pairs.select(1, 0) * 16 + pairs.select(1, 1)).to_kind(Kind::Uint8);
    let absmax = if double_quant {
        let q = nested::quantize(&absmax);
        Absmax::Nested {
            codes: q.codes,
            scales: q.scales,
            offset: q.offset,
        }
    } else {
        Absmax::Plain(absmax)
    };
    Ok(Nf4 {
        packed,
        absmax,
        shape: t.size(),
        blocksize,
    })
}

/// Checks that the parts of `q` fit its shape and blocksize.
fn check_parts(q: &Nf4) -> Result<()> {
    check_blocksize(q.blocksize)?;
    let n = q.numel();
    ensure!(n > 0, "NF4 tensor of shape {:?} is empty", q.shape);
    ensure!(
        q.packed.kind() == Kind::Uint8 && q.packed.size() == [(n + 1) / 2],
        "NF4 packed data: {:?} {:?}, want Uint8 [{}] for shape {:?}",
        q.packed.kind(),
        q.packed.size(),
        (n + 1) / 2,
        q.shape
    );
    ensure!(
        q.absmax.blocks() == q.blocks(),
        "NF4 absmax covers {} blocks, the shape {:?} has {}",
        q.absmax.blocks(),
        q.shape,
        q.blocks()
    );
    if let Absmax::Nested { scales, .. } = &q.absmax {
        let want = nested::scale_blocks(q.blocks());
        ensure!(
            scales.numel() as i64 == want,
            "NF4 nested absmax has {} scales, want {want}",
            scales.numel()
        );
    }
    Ok(())
}

/// The tensor that `q` holds, as `kind` (f32, bf16 or f16), on the device
/// of its packed data.
pub fn dequantize(q: &Nf4, kind: Kind) -> Result<Tensor> {
    check_kind(kind, "dequantisation")?;
    check_parts(q)?;
    let device = q.packed.device();
    let absmax = q.absmax.values().to_device(device);
    let table = byte_table(device);
    let values = dequantize_blocks(&q.packed, &absmax, q.blocksize, &table);
    let out = values.narrow(0, 0, q.numel());
    Ok(out.reshape(&q.shape[..]).to_kind(kind))
}

/// The two NF4 values of each byte, the high nibble's first: `[256, 2]`
/// f32 on `device`, the table [`dequantize_blocks`] reads.
pub fn byte_table(device: Device) -> Tensor {
    let pairs: Vec<f32> = (0..256)
        .flat_map(|b| [NF4_CODE[b >> 4], NF4_CODE[b & 15]])
        .collect();
    Tensor::from_slice(&pairs).to_device(device).view([256, 2])
}

/// The f32 values of the blocks of `blocksize` codes in `packed` (u8, two
/// codes a byte, the first in the high nibble), each block times its f32
/// `absmax`: `[absmax.numel() * blocksize]`, `code[nibble] * absmax` as
/// [`dequantize`] computes it, looked up in `table` ([`byte_table`], on
/// `packed`'s device). Codes past the end of `packed` count as 0.
pub fn dequantize_blocks(
    packed: &Tensor,
    absmax: &Tensor,
    blocksize: i64,
    table: &Tensor,
) -> Tensor {
    let blocks = absmax.size()[0];
    let want = blocks * blocksize;
    let values = table
        .index_select(0, &packed.to_kind(Kind::Int))
        .reshape([-1]);
    let have = values.size()[0];
    let values = match have < want {
        true => values.constant_pad_nd([0, want - have]),
        false => values.narrow(0, 0, want),
    };
    (values.view([blocks, blocksize]) * absmax.view([-1, 1])).reshape([-1])
}
