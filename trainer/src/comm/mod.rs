//! Collective communication between ranks, over tch tensors.
//!
//! [`Comm`] is what the engine sees; `cpu` (ring algorithms over TCP, the role
//! Gloo plays for PyTorch) and `nccl` implement it. Collectives work on
//! flattened tensors of any dtype; reductions on floating and integer kinds.

mod bytes;
mod connect;
mod cpu;
mod links;
mod nccl;
mod nccl_lib;
mod queue;
mod ring;
mod stream;
mod watchdog;

pub use connect::connect;
pub use cpu::CpuComm;
pub use nccl::NcclComm;
pub use nccl_lib::prepare as prepare_nccl;
pub use queue::Queued;

use anyhow::Result;
use std::time::Duration;
use tch::Tensor;

/// How values from every rank are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// The sum over ranks.
    Sum,
}

/// Collective operations of one rank within its world.
pub trait Comm {
    /// This rank's index, 0..world_size.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn world_size(&self) -> usize;
    /// The 1-D concatenation, in rank order, of every rank's `input`
    /// (flattened). Every rank passes the same number of elements (shards
    /// are padded to equal length), so no lengths are exchanged. With one
    /// rank the result may share `input`'s storage.
    fn all_gather(&mut self, input: &Tensor) -> Result<Tensor>;
    /// Splits the flattened `input` into [`chunk_sizes`] pieces, reduces piece
    /// r over all ranks and returns it on rank r (with one rank, possibly
    /// sharing `input`'s storage). `nccl` needs a length that is a multiple
    /// of the world size (as the engine's padded units are).
    fn reduce_scatter(&mut self, input: &Tensor, op: ReduceOp) -> Result<Tensor>;
    /// Reduces `tensor` over all ranks, in place on every rank.
    fn all_reduce(&mut self, tensor: &mut Tensor, op: ReduceOp) -> Result<()>;
    /// Returns once every rank has called it.
    fn barrier(&mut self) -> Result<()>;
    /// How long compute waited on communication since the last call: the
    /// time collectives blocked this thread (cpu), or the default stream
    /// stood waiting for the communication stream (nccl; read once the
    /// step's values have reached the host, so no extra sync).
    fn take_wait(&mut self) -> Duration {
        Duration::ZERO
    }
    /// Whether started collectives move while the caller computes (a
    /// communication thread or stream); the engine then starts the next
    /// unit's gather early.
    fn overlaps(&self) -> bool {
        false
    }
    /// Starts [`Comm::all_gather`]; its result comes from [`Pending::wait`].
    /// Collectives run in the order they are started, whether started or
    /// called. A backend without a communication thread or stream runs it
    /// now.
    fn start_all_gather(&mut self, input: &Tensor) -> Result<Pending> {
        Ok(Pending::ready(self.all_gather(input)))
    }
    /// Starts [`Comm::reduce_scatter`], as [`Comm::start_all_gather`].
    fn start_reduce_scatter(&mut self, input: &Tensor, op: ReduceOp) -> Result<Pending> {
        Ok(Pending::ready(self.reduce_scatter(input, op)))
    }
}

/// A started collective: its input is held until it has finished.
pub struct Pending(Box<dyn FnOnce() -> Result<Tensor> + Send>);

impl Pending {
    /// A collective that has already run.
    pub fn ready(result: Result<Tensor>) -> Pending {
        Pending(Box::new(move || result))
    }

    /// A collective whose result `finish` waits for.
    pub fn later(finish: impl FnOnce() -> Result<Tensor> + Send + 'static) -> Pending {
        Pending(Box::new(finish))
    }

    /// Waits for the collective and returns its output.
    pub fn wait(self) -> Result<Tensor> {
        (self.0)()
    }
}

/// How `n` elements split over `world` ranks: the first `n % world` pieces
/// have one element more (as `torch.tensor_split`).
pub fn chunk_sizes(n: usize, world: usize) -> Vec<usize> {
    (0..world)
        .map(|r| n / world + usize::from(r < n % world))
        .collect()
}

/// Start offsets of [`chunk_sizes`].
pub fn chunk_offsets(sizes: &[usize]) -> Vec<usize> {
    sizes
        .iter()
        .scan(0, |acc, &s| {
            let o = *acc;
            *acc += s;
            Some(o)
        })
        .collect()
}
