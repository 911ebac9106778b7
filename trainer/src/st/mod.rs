//! safetensors files, the one on-disk format of tensors: the model a run
//! starts from, checkpoint shards, the DPO reference cache and the final
//! export. Headers are parsed by the `safetensors` crate; data is read by
//! element range from a memory map ([`Mapped`]) and written streamed, one
//! tensor at a time behind a header known up front ([`Writer`]), so no file
//! is ever held whole in memory. [`dtype`] and [`kind`] are the one table
//! between libtorch kinds and the format's dtypes.

mod read;
mod write;

pub use read::Mapped;
pub use safetensors::tensor::TensorInfo;
pub use safetensors::Dtype;
pub use write::{Entry, Writer};

use tch::Kind;

/// The kinds stored in safetensors files, with their dtype.
const TABLE: [(Kind, Dtype); 6] = [
    (Kind::Float, Dtype::F32),
    (Kind::Double, Dtype::F64),
    (Kind::BFloat16, Dtype::BF16),
    (Kind::Half, Dtype::F16),
    (Kind::Uint8, Dtype::U8),
    (Kind::Int64, Dtype::I64),
];

/// The safetensors dtype of tensors of `kind`, if it is one we store.
pub fn dtype(kind: Kind) -> Option<Dtype> {
    TABLE.iter().find(|(k, _)| *k == kind).map(|&(_, d)| d)
}

/// The libtorch kind of a stored `dtype`, if it is one we read.
pub fn kind(dtype: Dtype) -> Option<Kind> {
    TABLE.iter().find(|(_, d)| *d == dtype).map(|&(k, _)| k)
}

/// Bytes per element of a stored dtype.
pub fn elt_size(dtype: Dtype) -> usize {
    dtype.bitsize() / 8
}
