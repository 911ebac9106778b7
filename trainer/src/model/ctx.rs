//! Per-batch context shared by every decoder block: the rotary cos/sin for
//! the batch's positions and, for packed sequences, the attention mask.

use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

use super::rope;
use runconfig::model::LlamaConfig;
use runconfig::Dtype;

/// The tensor kind of the configured compute dtype (`model.dtype`).
pub fn compute_kind(dtype: Dtype) -> Kind {
    match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::Bf16 => Kind::BFloat16,
    }
}

/// What the blocks need besides their weights and input; build it once per
/// micro-batch and reuse it for the forward and every recompute.
#[derive(Debug)]
pub struct Ctx {
    /// Rotary cosines `[B or 1, T, head_dim]`, in the compute dtype.
    pub cos: Tensor,
    /// Rotary sines, like `cos`.
    pub sin: Tensor,
    /// `None`: plain causal attention. `Some(mask)`: a boolean `[B, 1, T, T]`
    /// mask, true where a query (row) may attend to a key (column).
    pub mask: Option<Tensor>,
}

impl Ctx {
    /// Positions `0..seq_len` in every row; causal attention.
    pub fn causal(cfg: &LlamaConfig, seq_len: i64, kind: Kind, device: Device) -> Ctx {
        let pos = Tensor::arange(seq_len, (Kind::Int64, device)).unsqueeze(0);
        Self::with_positions(cfg, &pos, kind)
    }

    /// Explicit position ids `[B, T]` (or `[1, T]`); causal attention over the
    /// whole row.
    pub fn with_positions(cfg: &LlamaConfig, position_ids: &Tensor, kind: Kind) -> Ctx {
        let (cos, sin) = rope::cos_sin(&rope::inv_freq(cfg), position_ids, kind);
        Ctx {
            cos,
            sin,
            mask: None,
        }
    }

    /// Several documents packed in each row: `segment_ids` `[B, T]` label the
    /// document of each token; a token attends only to earlier tokens of its
    /// own document. `position_ids` `[B, T]` should restart at each document.
    /// The labels must be -100 at the first token of each document, so that
    /// no document is trained to predict the start of the next one.
    pub fn packed(
        cfg: &LlamaConfig,
        position_ids: &Tensor,
        segment_ids: &Tensor,
        kind: Kind,
    ) -> Result<Ctx> {
        if position_ids.dim() != 2 || segment_ids.size() != position_ids.size() {
            bail!(
                "packed batch: position ids {:?} and segment ids {:?} must both be [B, T]",
                position_ids.size(),
                segment_ids.size()
            );
        }
        let t = segment_ids.size()[1];
        let causal = Tensor::ones([t, t], (Kind::Bool, segment_ids.device())).tril(0);
        let same = segment_ids
            .unsqueeze(2)
            .eq_tensor(&segment_ids.unsqueeze(1));
        let mask = same.logical_and(&causal).unsqueeze(1);
        let mut ctx = Self::with_positions(cfg, position_ids, kind);
        ctx.mask = Some(mask);
        Ok(ctx)
    }

    /// Packed documents told apart by their positions alone: a new document
    /// starts wherever the position id is 0.
    pub fn packed_from_positions(
        cfg: &LlamaConfig,
        position_ids: &Tensor,
        kind: Kind,
    ) -> Result<Ctx> {
        let segments = position_ids.eq(0).cumsum(1, Kind::Int64);
        Self::packed(cfg, position_ids, &segments, kind)
    }

    /// The compute dtype the context was built for.
    pub fn kind(&self) -> Kind {
        self.cos.kind()
    }
}
