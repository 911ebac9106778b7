//! The `nccl` backend: NCCL through cudarc, on CUDA tensors of this rank's
//! GPU. Collectives run on a communication stream of their own
//! ([`CommStream`]), ordered after the default stream's work so far (the
//! kernels that produce their inputs) and before the default stream's use
//! of their output, by CUDA events: started ones overlap libtorch's
//! compute. Every collective of the communicator goes through that one
//! stream, in the order the rank started them. A [`Watchdog`] ends the rank
//! when a collective does not complete within `comm_timeout_s`.
//!
//! Gathers and reduce-scatters share the one stream and communicator: NCCL
//! runs one communicator's collectives in the order they were issued
//! whatever the stream, and its guide asks that operations of different
//! communicators not run concurrently (they can deadlock), so a second
//! stream would buy a second communicator and that risk. What overlaps is
//! communication with compute, which is what hides it.

use super::stream::{CommStream, Waits};
use super::watchdog::Watchdog;
use super::{Comm, Pending, ReduceOp};
use anyhow::{bail, ensure, Context, Result};
use cudarc::nccl::{result as nccl, sys};
use rendezvous::faults::PEER_FAILED;
use rendezvous::{Heartbeat, RankEnv, StoreClient};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

/// A rank's NCCL communicator.
pub struct NcclComm {
    comm: sys::ncclComm_t,
    rank: usize,
    world: usize,
    device: Device,
    heartbeat: Arc<Heartbeat>,
    watchdog: Option<Watchdog>,
    stream: CommStream,
    waits: Waits,
}

fn dtype(kind: Kind) -> Result<sys::ncclDataType_t> {
    use sys::ncclDataType_t::*;
    Ok(match kind {
        Kind::Float => ncclFloat32,
        Kind::Double => ncclFloat64,
        Kind::BFloat16 => ncclBfloat16,
        Kind::Half => ncclFloat16,
        Kind::Int => ncclInt32,
        Kind::Int64 => ncclInt64,
        Kind::Uint8 => ncclUint8,
        Kind::Int8 => ncclInt8,
        k => bail!("NCCL cannot move tensors of kind {k:?}"),
    })
}

impl NcclComm {
    /// Opens NCCL on GPU `LOCAL_RANK`; the unique id travels through the store.
    pub fn connect(env: &RankEnv, store: &mut StoreClient) -> Result<NcclComm> {
        let (rank, world, local_rank) = (env.rank, env.world_size, env.local_rank);
        if !crate::cuda::driver_present() {
            bail!("comm: nccl needs an NVIDIA GPU, and this machine has no NVIDIA driver; use `comm: cpu` (or `auto`)");
        }
        crate::cuda::load().map_err(anyhow::Error::msg)?;
        let gpus = tch::Cuda::device_count() as usize;
        ensure!(gpus > 0, "comm: nccl needs a CUDA GPU, but libtorch sees none (check CUDA_VISIBLE_DEVICES and the driver)");
        ensure!(local_rank < gpus, "rank {rank} wants GPU {local_rank}, but only {gpus} GPU(s) are visible; launch at most {gpus} ranks per node with nccl, or use `comm: cpu`");
        let lib = super::nccl_lib::prepare()?;
        let ctx =
            cudarc::driver::CudaContext::new(local_rank).context("opening the CUDA device")?;
        ctx.bind_to_thread().context("selecting the CUDA device")?;
        let id = if rank == 0 {
            let id = nccl::get_uniqueid().map_err(|e| anyhow::anyhow!("ncclGetUniqueId: {e:?}"))?;
            let bytes: Vec<u8> = id.internal.iter().map(|&c| c as u8).collect();
            store.set("nccl/id", &bytes)?;
            id
        } else {
            let bytes = store.get("nccl/id", Duration::from_secs(300))?;
            ensure!(bytes.len() == 128, "bad NCCL id in the store");
            let mut id = sys::ncclUniqueId { internal: [0; 128] };
            for (d, s) in id.internal.iter_mut().zip(bytes) {
                *d = s as _;
            }
            id
        };
        let mut comm = std::ptr::null_mut();
        // SAFETY: a valid out-pointer; every rank calls with the same id.
        unsafe { nccl::comm_init_rank(&mut comm, world as i32, id, rank as i32) }.map_err(|e| {
            anyhow::anyhow!("ncclCommInitRank with {} failed: {e:?}", lib.display())
        })?;
        let heartbeat = Arc::new(Heartbeat::start(store, rank, world, env.comm_timeout)?);
        let watchdog = Watchdog::start(ctx, comm, rank, env.comm_timeout, heartbeat.clone())?;
        Ok(NcclComm {
            comm,
            rank,
            world,
            device: Device::Cuda(local_rank),
            heartbeat,
            watchdog: Some(watchdog),
            stream: CommStream::new()?,
            waits: Waits::default(),
        })
    }

    fn on_device(&self, t: &Tensor) -> Tensor {
        t.to_device(self.device).contiguous()
    }

    /// Starts one NCCL call of collective `op` on the communication stream,
    /// under the watchdog: after the default stream's work so far, and
    /// joined back into the default stream by [`Pending::wait`], which
    /// returns `out`. `input` is held until then.
    fn launch(
        &self,
        op: &'static str,
        (input, out): (Tensor, Tensor),
        call: impl FnOnce(sys::cudaStream_t) -> std::result::Result<nccl::NcclStatus, nccl::NcclError>,
    ) -> Result<Pending> {
        self.heartbeat.enter();
        let (since, bytes) = (Instant::now(), super::bytes::nbytes(&input));
        let rank = self.rank;
        let watchdog = self
            .watchdog
            .as_ref()
            .expect("the watchdog runs until drop");
        self.stream.after_default()?;
        let raw = self.stream.raw();
        watchdog.watch(op, raw, || {
            call(raw as sys::cudaStream_t).map(|_| ()).map_err(|e| {
                anyhow::anyhow!("rank {rank}: {op}: NCCL failed: {e:?} (perhaps {PEER_FAILED})")
            })
        })?;
        let done = self.stream.mark()?;
        let waits = self.waits.clone();
        Ok(Pending::later(move || {
            done.join_default_timed(&waits)?;
            let seconds = since.elapsed().as_secs_f64();
            tracing::debug!(
                op,
                bytes,
                seconds,
                "collective {op}: {bytes} bytes in {seconds:.6} s"
            );
            drop(input);
            Ok(out)
        }))
    }
}

impl Comm for NcclComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world
    }

    fn overlaps(&self) -> bool {
        self.world > 1
    }

    fn take_wait(&mut self) -> Duration {
        self.waits.take()
    }

    fn all_gather(&mut self, input: &Tensor) -> Result<Tensor> {
        self.start_all_gather(input)?.wait()
    }

    fn reduce_scatter(&mut self, input: &Tensor, op: ReduceOp) -> Result<Tensor> {
        self.start_reduce_scatter(input, op)?.wait()
    }

    fn start_all_gather(&mut self, input: &Tensor) -> Result<Pending> {
        let input = self.on_device(&input.flatten(0, -1));
        if self.world == 1 {
            // The rank's own shard is the whole unit (as on the cpu ring).
            return Ok(Pending::ready(Ok(input)));
        }
        let n = input.numel();
        let out = Tensor::empty([(n * self.world) as i64], (input.kind(), self.device));
        if n == 0 {
            return Ok(Pending::ready(Ok(out)));
        }
        let dt = dtype(input.kind())?;
        let (src, dst) = (input.data_ptr(), out.data_ptr());
        let comm = self.comm;
        // SAFETY: `out` holds world x n elements, `input` n (every rank
        // passes n); both live until the call is joined.
        self.launch("all_gather", (input, out), |s| unsafe {
            nccl::all_gather(src, dst, n, dt, comm, s)
        })
    }

    fn start_reduce_scatter(&mut self, input: &Tensor, ReduceOp::Sum: ReduceOp) -> Result<Pending> {
        let flat = self.on_device(&input.flatten(0, -1));
        let n = flat.numel();
        ensure!(
            n.is_multiple_of(self.world),
            "reduce_scatter: {n} elements do not split evenly over {} ranks",
            self.world
        );
        let each = n / self.world;
        let out = Tensor::empty([each as i64], (flat.kind(), self.device));
        if each == 0 {
            return Ok(Pending::ready(Ok(out)));
        }
        let dt = dtype(flat.kind())?;
        let (src, dst) = (flat.data_ptr(), out.data_ptr());
        let comm = self.comm;
        // SAFETY: `flat` holds world x each elements, `out` each; both live
        // until the call is joined.
        self.launch("reduce_scatter", (flat, out), |s| unsafe {
            nccl::reduce_scatter(src, dst, each, dt, sys::ncclRedOp_t::ncclSum, comm, s)
        })
    }

    fn all_reduce(&mut self, tensor: &mut Tensor, ReduceOp::Sum: ReduceOp) -> Result<()> {
        let buf = self.on_device(tensor);
        if buf.numel() > 0 {
            let dt = dtype(buf.kind())?;
            let (ptr, n, comm) = (buf.data_ptr(), buf.numel(), self.comm);
            // SAFETY: in place on a contiguous device buffer that lives until the join.
            let pending = self.launch(
                "all_reduce",
                (buf.shallow_clone(), Tensor::new()),
                |s| unsafe {
                    nccl::all_reduce(ptr, ptr, n, dt, sys::ncclRedOp_t::ncclSum, comm, s)
                },
            )?;
            drop(pending.wait()?);
        }
        tensor.copy_(&buf);
        Ok(())
    }

    fn barrier(&mut self) -> Result<()> {
        let mut t = Tensor::ones([1], (Kind::Float, self.device));
        self.all_reduce(&mut t, ReduceOp::Sum)?;
        let _ = t.double_value(&[0]); // waits for the stream
        Ok(())
    }
}

impl Drop for NcclComm {
    fn drop(&mut self) {
        drop(self.watchdog.take()); // waits for the collectives in flight
                                    // SAFETY: the communicator was created by comm_init_rank and is dropped once.
        let _ = unsafe { nccl::comm_destroy(self.comm) };
    }
}
