//! Samples into the tensors of one micro-batch.
//!
//! Rows are padded on the right to the longest row: input ids with the pad
//! id, labels with [`IGNORE`], position ids counting on from the row's last
//! token (so an unpacked row's positions are exactly `0..T`) and segment
//! ids repeating the last segment's. Padding therefore never changes what a
//! real token attends to under causal attention.

use super::sample::{Sample, IGNORE};
use crate::batch::Batch;
use tch::{Device, Tensor};

/// Pads and stacks `rows`. Position and segment ids are set only when some
/// row holds several examples (build the attention with `Ctx::packed`);
/// otherwise plain causal attention gives the same result.
pub fn collate(rows: &[Sample], pad_id: i64, device: Device) -> Batch {
    let width = rows.iter().map(Sample::len).max().unwrap_or(0);
    let n = rows.len() * width;
    let (mut ids, mut labels, mut pos, mut seg) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut packed = false;
    for r in rows {
        let s = r.segment_ids();
        packed |= s.last().is_some_and(|&x| x > 0);
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
    let t = |v: &[i64]| crate::device::upload(&Tensor::from_slice(v).view(shape), device);
    Batch {
        input_ids: t(&ids),
        labels: t(&labels),
        position_ids: packed.then(|| t(&pos)),
        segment_ids: packed.then(|| t(&seg)),
        tokens: rows.iter().map(|r| r.len() as i64).sum(),
    }
}
