//! The `cpu` backend: ring collectives over TCP between neighbouring ranks.
//!
//! Rank r sends to r+1 and receives from r-1. Reduce-scatter and all-gather
//! take W-1 steps each, every rank sending 1/W of the data per step, so each
//! rank sends (W-1)/W of the tensor per collective, as NCCL's rings do. CUDA
//! tensors are staged through host memory, so several ranks can share a GPU.

use super::bytes::{host, nbytes, slice_mut};
use super::links::Links;
use super::{chunk_offsets, chunk_sizes, ring, Comm, ReduceOp};
use anyhow::{bail, Result};
use rendezvous::{Heartbeat, StoreClient, DEFAULT_COMM_TIMEOUT};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tch::{Kind, Tensor};

/// Ring links of one rank.
pub struct CpuComm {
    rank: usize,
    world: usize,
    links: Option<Links>,
    heartbeat: Option<Arc<Heartbeat>>,
    /// Time spent in collectives since [`Comm::take_wait`].
    waited: Duration,
}

impl CpuComm {
    /// A world of one rank (no sockets).
    pub fn single() -> CpuComm {
        CpuComm {
            rank: 0,
            world: 1,
            links: None,
            heartbeat: None,
            waited: Duration::ZERO,
        }
    }

    /// [`CpuComm::connect_within`] the default collective timeout.
    pub fn connect(rank: usize, world: usize, store: &mut StoreClient) -> Result<CpuComm> {
        Self::connect_within(rank, world, store, DEFAULT_COMM_TIMEOUT)
    }

    /// Starts this rank's heartbeat, publishes its listening address in the
    /// store and connects the ring. A collective that makes no progress for
    /// `timeout` fails, naming the rank that did not arrive.
    pub fn connect_within(
        rank: usize,
        world: usize,
        store: &mut StoreClient,
        timeout: Duration,
    ) -> Result<CpuComm> {
        let heartbeat = Arc::new(Heartbeat::start(store, rank, world, timeout)?);
        let links = match world {
            1 => None,
            _ => {
                let streams = ring::connect(rank, world, store, timeout)?;
                Some(Links::new(rank, world, streams, timeout, heartbeat.clone()))
            }
        };
        Ok(CpuComm {
            rank,
            world,
            links,
            heartbeat: Some(heartbeat),
            waited: Duration::ZERO,
        })
    }

    /// Runs one collective: counted for the heartbeat, timed.
    /// Runs one collective `op` on `bytes` of input: heartbeat, wait time,
    /// and a debug line with its timing.
    fn timed<T>(
        &mut self,
        op: &str,
        bytes: usize,
        run: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        if let Some(h) = &self.heartbeat {
            h.enter();
        }
        let since = Instant::now();
        let out = run(self);
        let took = since.elapsed();
        self.waited += took;
        let seconds = took.as_secs_f64();
        tracing::debug!(
            op,
            bytes,
            seconds,
            "collective {op}: {bytes} bytes in {seconds:.6} s"
        );
        out
    }

    fn links(&mut self) -> &mut Links {
        self.links
            .as_mut()
            .expect("a world of several ranks has ring links")
    }

    /// Ring all-gather of the byte blocks `sizes[i]` at `offsets[i]` of `buf`,
    /// block `rank` being already in place.
    fn ring_gather(
        &mut self,
        op: &str,
        buf: &Tensor,
        offsets: &[usize],
        sizes: &[usize],
    ) -> Result<()> {
        let (r, w) = (self.rank, self.world);
        for step in 0..w - 1 {
            let (s, d) = ((r + w - step) % w, (r + 2 * w - step - 1) % w);
            // SAFETY: blocks s and d are distinct regions of the contiguous host `buf`.
            let (out, inp) = unsafe {
                (
                    slice_mut(buf, offsets[s], sizes[s]),
                    slice_mut(buf, offsets[d], sizes[d]),
                )
            };
            self.links().exchange(op, out, inp)?;
        }
        Ok(())
    }

    /// The all-gather of [`Comm::all_gather`], as part of `op`: every rank's
    /// block has this rank's length.
    fn gather(&mut self, op: &str, input: &Tensor) -> Result<Tensor> {
        if self.world == 1 {
            return Ok(input.flatten(0, -1));
        }
        let device = input.device();
        let input = host(&input.flatten(0, -1));
        let n = nbytes(&input);
        let sizes = vec![n; self.world];
        let offsets = chunk_offsets(&sizes);
        let out = Tensor::empty(
            [input.numel() as i64 * self.world as i64],
            (input.kind(), tch::Device::Cpu),
        );
        // SAFETY: fresh contiguous host tensors.
        unsafe { slice_mut(&out, offsets[self.rank], n) }
            .copy_from_slice(unsafe { slice_mut(&input, 0, n) });
        self.ring_gather(op, &out, &offsets, &sizes)?;
        Ok(out.to_device(device))
    }

    /// Ring reduce-scatter (sum) of `input`, split into [`chunk_sizes`]
    /// pieces: returns this rank's piece, reduced over every rank, on the
    /// host. Each step sends the piece reduced so far (at first, the input's
    /// own) and adds the received one to the input's, received straight
    /// into a tensor: no copy of the whole input and no staging buffer.
    fn scatter(&mut self, op: &str, input: &Tensor) -> Result<Tensor> {
        check_reducible(input)?;
        let input = host(&input.flatten(0, -1));
        let (r, w) = (self.rank, self.world);
        let sizes = chunk_sizes(input.numel(), w);
        let offsets = chunk_offsets(&sizes);
        let piece = |i: usize| input.narrow(0, offsets[i] as i64, sizes[i] as i64);
        let mut reduced = piece((r + w - 1) % w);
        for step in 0..w.saturating_sub(1) {
            let d = (r + 2 * w - step - 2) % w;
            let got = Tensor::empty([sizes[d] as i64], (input.kind(), tch::Device::Cpu));
            let out = reduced.contiguous();
            // SAFETY: fresh or contiguous host tensors, alive for the call.
            let (out_bytes, in_bytes) = unsafe {
                (
                    slice_mut(&out, 0, nbytes(&out)),
                    slice_mut(&got, 0, nbytes(&got)),
                )
            };
            self.links().exchange(op, out_bytes, in_bytes)?;
            reduced = piece(d) + got;
        }
        Ok(reduced)
    }

    /// The all-reduce of [`Comm::all_reduce`], as part of `op`: a ring
    /// reduce-scatter, then a ring all-gather of the reduced pieces.
    fn reduce(&mut self, op: &str, tensor: &mut Tensor) -> Result<()> {
        if self.world == 1 {
            return Ok(());
        }
        let mine = self.scatter(op, tensor)?;
        let elt = mine.kind().elt_size_in_bytes();
        let sizes: Vec<usize> = chunk_sizes(tensor.numel(), self.world)
            .iter()
            .map(|x| x * elt)
            .collect();
        let offsets = chunk_offsets(&sizes);
        let buf = Tensor::empty([tensor.numel() as i64], (mine.kind(), tch::Device::Cpu));
        // SAFETY: fresh contiguous host tensors.
        unsafe { slice_mut(&buf, offsets[self.rank], sizes[self.rank]) }
            .copy_from_slice(unsafe { slice_mut(&mine, 0, nbytes(&mine)) });
        self.ring_gather(op, &buf, &offsets, &sizes)?;
        tensor.copy_(&buf.view(tensor.size().as_slice()));
        Ok(())
    }
}

fn check_reducible(t: &Tensor) -> Result<()> {
    match t.kind() {
        Kind::Float | Kind::Double | Kind::BFloat16 | Kind::Half | Kind::Int | Kind::Int64 => {
            Ok(())
        }
        k => bail!("cannot reduce tensors of kind {k:?}"),
    }
}

impl Comm for CpuComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world
    }

    fn all_gather(&mut self, input: &Tensor) -> Result<Tensor> {
        self.timed("all_gather", nbytes(input), |c| {
            c.gather("all_gather", input)
        })
    }

    fn reduce_scatter(&mut self, input: &Tensor, ReduceOp::Sum: ReduceOp) -> Result<Tensor> {
        self.timed("reduce_scatter", nbytes(input), |c| {
            if c.world == 1 {
                check_reducible(input)?;
                return Ok(input.flatten(0, -1));
            }
            let mine = c.scatter("reduce_scatter", input)?;
            Ok(mine.to_device(input.device()))
        })
    }

    fn all_reduce(&mut self, tensor: &mut Tensor, ReduceOp::Sum: ReduceOp) -> Result<()> {
        self.timed("all_reduce", nbytes(tensor), |c| {
            c.reduce("all_reduce", tensor)
        })
    }

    fn barrier(&mut self) -> Result<()> {
        let mut t = Tensor::from_slice(&[1i64]);
        self.timed("barrier", 0, |c| c.reduce("barrier", &mut t))
    }

    fn take_wait(&mut self) -> Duration {
        std::mem::take(&mut self.waited)
    }
}
