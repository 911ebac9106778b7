//! One micro-batch as the model sees it: what the data module builds
//! ([`crate::data::collate`]), the engine runs and objectives score.

use tch::Tensor;

/// One micro-batch, every tensor `[B, T]` of int64.
#[derive(Debug)]
pub struct Batch {
    pub input_ids: Tensor,
    /// Unshifted targets (the model shifts); -100 where no loss is taken
    /// (prompt, padding, document starts).
    pub labels: Tensor,
    /// Positions that restart at each packed document (None: 0..T per row).
    pub position_ids: Option<Tensor>,
    /// Document of each token in a packed row (None: one document per row).
    pub segment_ids: Option<Tensor>,
    /// Real (not padding) tokens in the batch.
    pub tokens: i64,
}
