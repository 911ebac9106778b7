//! Per-batch context shared by every decoder block: the rotary cos/sin for
//! the batch's positions and the attention masks, for the global layers and,
//! when the model has them, for the layers local to a sliding window; and
//! how the pass applies the LoRA adapters.

use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

use super::dropout::Adapters;
use super::rope;
use runconfig::model::{LlamaConfig, RopeConfig};
use runconfig::Dtype;

/// The tensor kind of the configured compute dtype (`model.dtype`).
pub fn compute_kind(dtype: Dtype) -> Kind {
    match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::Bf16 => Kind::BFloat16,
    }
}

/// What one kind of layer (global or local) attends with.
#[derive(Debug)]
pub struct LayerCtx {
    /// Rotary cosines `[B or 1, T, head_dim]`, in the compute dtype (f32
    /// for a family that rotates in f32).
    pub cos: Tensor,
    /// Rotary sines, like `cos`.
    pub sin: Tensor,
    /// `None`: plain causal attention. `Some(mask)`: a boolean
    /// `[B or 1, 1, T, T]` mask, true where a query (row) may attend to a
    /// key (column).
    pub mask: Option<Tensor>,
}

/// What the blocks need besides their weights and input; build it once per
/// micro-batch and reuse it for the forward and every recompute.
#[derive(Debug)]
pub struct Ctx {
    /// The global layers'.
    pub global: LayerCtx,
    /// The local layers' (window mask, and Gemma 3's own rotation), when
    /// the model has local layers.
    pub local: Option<LayerCtx>,
    /// How the blocks apply their LoRA adapters ([`Adapters::On`] unless
    /// [`Ctx::with_adapters`] says otherwise).
    pub adapters: Adapters,
    kind: Kind,
}

impl Ctx {
    /// Positions `0..seq_len` in every row; causal attention.
    pub fn causal(cfg: &LlamaConfig, seq_len: i64, kind: Kind, device: Device) -> Ctx {
        let pos = Tensor::arange(seq_len, (Kind::Int64, device)).unsqueeze(0);
        Self::with_positions(cfg, &pos, kind)
    }

    /// Explicit position ids `[B, T]` (or `[1, T]`); causal attention over the
    /// whole row (within the window on local layers).
    pub fn with_positions(cfg: &LlamaConfig, position_ids: &Tensor, kind: Kind) -> Ctx {
        let t = position_ids.size().last().copied().unwrap_or(0);
        let band = window_band(cfg, t, position_ids.device());
        Self::build(cfg, position_ids, kind, None, band)
    }

    /// Several documents packed in each row: `segment_ids` `[B, T]` label the
    /// document of each token; a token attends only to earlier tokens of its
    /// own document (and, on local layers, within the window).
    /// `position_ids` `[B, T]` should restart at each document. The labels
    /// must be -100 at the first token of each document, so that no document
    /// is trained to predict the start of the next one.
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
        let band = window_band(cfg, t, segment_ids.device());
        Ok(Self::build(cfg, position_ids, kind, Some(mask), band))
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

    /// The global context from `mask`, and the local one (the same mask
    /// within `band`, the local rotation) when the model has local layers.
    fn build(
        cfg: &LlamaConfig,
        position_ids: &Tensor,
        kind: Kind,
        mask: Option<Tensor>,
        band: Option<Tensor>,
    ) -> Ctx {
        let rotary_kind = match cfg.family.rotates_in_f32() {
            true => Kind::Float,
            false => kind,
        };
        let rotation = |rope: &RopeConfig| {
            rope::cos_sin(&rope::inv_freq(cfg, rope), position_ids, rotary_kind)
        };
        let (cos, sin) = rotation(&cfg.rope);
        let local = cfg.attention.local_layers.iter().any(|&l| l).then(|| {
            let (cos, sin) = match &cfg.attention.local_rope {
                Some(r) => rotation(r),
                None => (cos.shallow_clone(), sin.shallow_clone()),
            };
            let mask = match (&mask, band) {
                (Some(m), Some(b)) => Some(m.logical_and(&b)),
                (None, Some(b)) => Some(b),
                (m, None) => m.as_ref().map(Tensor::shallow_clone),
            };
            LayerCtx { cos, sin, mask }
        });
        Ctx {
            global: LayerCtx { cos, sin, mask },
            local,
            adapters: Adapters::On,
            kind,
        }
    }

    /// This context, its LoRA adapters applied as `adapters` says.
    pub fn with_adapters(self, adapters: Adapters) -> Ctx {
        Ctx { adapters, ..self }
    }

    /// The context of decoder layer `layer`.
    pub fn layer(&self, cfg: &LlamaConfig, layer: usize) -> &LayerCtx {
        match (&self.local, cfg.attention.window_of(layer)) {
            (Some(local), Some(_)) => local,
            _ => &self.global,
        }
    }

    /// The compute dtype the context was built for.
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

/// The causal band of the sliding window, `[1, 1, T, T]`: a query attends to
/// itself and the `window - 1` keys before it; `None` when the window covers
/// every row of `t` tokens (plain causal) or the model has none.
fn window_band(cfg: &LlamaConfig, t: i64, device: Device) -> Option<Tensor> {
    let w = cfg.attention.window.filter(|&w| w < t)?;
    let ones = Tensor::ones([t, t], (Kind::Bool, device));
    let band = ones.tril(0).logical_and(&ones.tril(-w).logical_not());
    Some(band.view([1, 1, t, t]))
}
