//! The nccl backend's collective timeout, as NCCL's watchdog in PyTorch: a
//! CUDA event is recorded on the stream behind every collective, and a
//! thread waits for each in turn. When a collective (its enqueueing or its
//! kernels) has not completed within `comm_timeout_s`, the thread names the
//! rank that did not arrive (from the heartbeats), aborts the communicator
//! (`ncclCommAbort`, which ends the kernels that wait for the absent rank)
//! and ends the process with status 1: the ranks' collectives cannot be
//! resumed after an abort.

use anyhow::{anyhow, Result};
use cudarc::driver::result::event;
use cudarc::driver::{sys as cuda, CudaContext};
use cudarc::nccl::{result as nccl, sys};
use rendezvous::faults::absent_peer;
use rendezvous::Heartbeat;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A recorded event, owned by the watchdog thread once sent.
struct Pending {
    op: &'static str,
    event: cuda::CUevent,
    since: Instant,
}

// SAFETY: CUDA events may be queried and destroyed from any thread of the context.
unsafe impl Send for Pending {}

/// The communicator, for the abort.
struct Abortable(sys::ncclComm_t);

// SAFETY: ncclCommAbort may be called from another thread than the one using the communicator.
unsafe impl Send for Abortable {}

/// The collective being enqueued now, if any, and since when.
type Entering = Arc<Mutex<Option<(&'static str, Instant)>>>;

/// Watches one rank's collectives.
pub struct Watchdog {
    tx: Option<mpsc::Sender<Pending>>,
    thread: Option<JoinHandle<()>>,
    entering: Entering,
}

/// What the watchdog thread needs to name the culprit and stop.
struct Watch {
    rank: usize,
    timeout: Duration,
    heartbeat: Arc<Heartbeat>,
    comm: Abortable,
    entering: Entering,
}

impl Watchdog {
    /// Starts watching `comm` of `rank` on the device of `ctx`.
    pub fn start(
        ctx: Arc<CudaContext>,
        comm: sys::ncclComm_t,
        rank: usize,
        timeout: Duration,
        heartbeat: Arc<Heartbeat>,
    ) -> Result<Watchdog> {
        let (tx, rx) = mpsc::channel::<Pending>();
        let entering: Entering = Arc::default();
        let watch = Watch {
            rank,
            timeout,
            heartbeat,
            comm: Abortable(comm),
            entering: entering.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("nccl-watchdog".into())
            .spawn(move || {
                if ctx.bind_to_thread().is_ok() {
                    watch.run(&rx);
                }
            })?;
        Ok(Watchdog {
            tx: Some(tx),
            thread: Some(thread),
            entering,
        })
    }

    /// Runs `enqueue` (an NCCL call on `stream`) under the watch.
    pub fn watch<T>(
        &self,
        op: &'static str,
        stream: cuda::CUstream,
        enqueue: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        *self.entering.lock().unwrap() = Some((op, Instant::now()));
        let out = enqueue();
        *self.entering.lock().unwrap() = None;
        let ev = event::create(cuda::CUevent_flags::CU_EVENT_DISABLE_TIMING)
            .map_err(|e| anyhow!("creating a CUDA event: {e:?}"))?;
        // SAFETY: a fresh event, recorded on the stream the collective runs on.
        unsafe { event::record(ev, stream) }
            .map_err(|e| anyhow!("recording a CUDA event: {e:?}"))?;
        let pending = Pending {
            op,
            event: ev,
            since: Instant::now(),
        };
        if let Some(tx) = &self.tx {
            let _ = tx.send(pending);
        }
        out
    }
}

impl Watch {
    /// Waits for each event in turn until the sender is dropped.
    fn run(&self, rx: &mpsc::Receiver<Pending>) {
        let poll = Duration::from_millis(5);
        loop {
            let pending = match rx.recv_timeout(poll) {
                Ok(p) => p,
                Err(RecvTimeoutError::Timeout) => {
                    self.check_entering();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            // SAFETY: the event was created and recorded by `Watchdog::watch`.
            while let Err(e) = unsafe { event::query(pending.event) } {
                if e.0 != cuda::CUresult::CUDA_ERROR_NOT_READY {
                    break; // the main thread sees the CUDA error itself
                }
                if pending.since.elapsed() >= self.timeout {
                    self.fire(pending.op);
                }
                self.check_entering();
                std::thread::sleep(poll);
            }
            // SAFETY: destroyed once, by its owner.
            let _ = unsafe { event::destroy(pending.event) };
        }
    }

    fn check_entering(&self) {
        let stuck = *self.entering.lock().unwrap();
        if let Some((op, since)) = stuck {
            if since.elapsed() >= self.timeout {
                self.fire(op);
            }
        }
    }

    /// Names the culprit, aborts the communicator and ends the process.
    fn fire(&self, op: &str) -> ! {
        let why = absent_peer(&self.heartbeat, None, self.timeout);
        eprintln!(
            "trainer rank {}: error: rank {}: {op}: {why}",
            self.rank, self.rank
        );
        // SAFETY: the communicator is live; after the abort the process exits.
        let _ = unsafe { nccl::comm_abort(self.comm.0) };
        std::process::exit(1);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
