//! Samples into the tensors of one micro-batch.
//!
//! Rows are padded on the right to the longest row (or to `pad_to`): input
//! ids with the pad id, labels with [`IGNORE`], position ids counting on
//! from the row's last token (so an unpacked row's positions are exactly
//! `0..T`) and segment ids repeating the last segment's. Padding therefore
//! never changes what a real token attends to under causal attention.

use super::sample::{Sample, IGNORE};
use tch::{Device, Tensor};

/// One micro-batch, every tensor `[B, T]` of int64.
#[derive(Debug)]
pub struct Batch {
    pub input_ids: Tensor,
    /// Unshifted targets (the model shifts); [`IGNORE`] where no loss.
    pub labels: Tensor,
    /// Position of each token within its example; feeds the rotary embedding.
    pub position_ids: Tensor,
    /// Example index of each token within its row.
    pub segment_ids: Tensor,
    /// True when some row holds several examples: build the attention with
    /// `Ctx::packed(cfg, &position_ids, &segment_ids, kind)`; otherwise plain
    /// causal attention (`Ctx::causal`) gives the same result.
    pub packed: bool,
    /// Loss targets in the batch (labels after the first column that are
    /// not [`IGNORE`]).
    pub targets: i64,
}

/// Pads and stacks `rows`.
pub fn collate(rows: &[Sample], pad_id: i64, pad_to: Option<usize>, device: Device) -> Batch {
    let longest = rows.iter().map(Sample::len).max().unwrap_or(0);
    let width = pad_to.unwrap_or(0).max(longest);
    let n = rows.len() * width;
    let (mut ids, mut labels, mut pos, mut seg) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut packed, mut targets) = (false, 0i64);
    for r in rows {
        let s = r.segment_ids();
        packed |= s.last().is_some_and(|&x| x > 0);
        targets += r.targets() as i64;
        let pad = width - r.len();
        ids.extend_from_slice(&r.input_ids);
        ids.extend(std::iter::repeat_n(pad_id, pad));
        labels.extend_from_slice(&r.labels);
        labels.extend(std::iter::repeat_n(IGNORE, pad));
        let next = r.position_ids.last().map_or(0, |p| p + 1);
        pos.extend_from_slice(&r.position_ids);
        pos.extend(next..next + pad as i64);
        let last = s.last().copied().unwrap_or(0);
        seg.extend_from_slice(&s);
        seg.extend(std::iter::repeat_n(last, pad));
    }
    let shape = [rows.len() as i64, width as i64];
    let t = |v: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
    Batch {
        input_ids: t(&ids),
        labels: t(&labels),
        position_ids: t(&pos),
        segment_ids: t(&seg),
        packed,
        targets,
    }
}
