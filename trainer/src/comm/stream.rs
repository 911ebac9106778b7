//! The nccl backend's communication stream: NCCL's kernels run there, so
//! that they overlap the kernels libtorch runs on the default stream.
//! Ordering is by CUDA events, never by host syncs: a collective starts
//! after the work the default stream has queued so far (its input's
//! producers), and the default stream waits for the collective before it
//! uses the output.

use anyhow::{anyhow, Result};
use cudarc::driver::result::{event, stream};
use cudarc::driver::sys as cuda;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A non-blocking CUDA stream of this rank's device.
pub struct CommStream(cuda::CUstream);

/// The point a stream had reached when it was marked.
pub struct Mark(cuda::CUevent);

// SAFETY: CUDA streams and events may be used from any thread of their context.
unsafe impl Send for CommStream {}
// SAFETY: as above.
unsafe impl Send for Mark {}

fn fresh_event() -> Result<cuda::CUevent> {
    event::create(cuda::CUevent_flags::CU_EVENT_DISABLE_TIMING)
        .map_err(|e| anyhow!("creating a CUDA event: {e:?}"))
}

/// Marks `on` and makes `waiter` wait for the mark.
fn order(on: cuda::CUstream, waiter: cuda::CUstream) -> Result<()> {
    let ev = fresh_event()?;
    // SAFETY: a fresh event; a wait takes the event's state when called,
    // so destroying it right after is allowed.
    unsafe {
        event::record(ev, on).map_err(|e| anyhow!("recording a CUDA event: {e:?}"))?;
        let waited =
            stream::wait_event(waiter, ev, cuda::CUevent_wait_flags::CU_EVENT_WAIT_DEFAULT);
        let _ = event::destroy(ev);
        waited.map_err(|e| anyhow!("ordering CUDA streams: {e:?}"))
    }
}

impl CommStream {
    /// A new stream on the device bound to this thread.
    pub fn new() -> Result<CommStream> {
        stream::create(stream::StreamKind::NonBlocking)
            .map(CommStream)
            .map_err(|e| anyhow!("creating the communication stream: {e:?}"))
    }

    /// The stream as NCCL takes it.
    pub fn raw(&self) -> cuda::CUstream {
        self.0
    }

    /// Makes this stream wait for what the default stream has queued so far.
    pub fn after_default(&self) -> Result<()> {
        order(stream::null(), self.0)
    }

    /// The point this stream has reached, for [`Mark::join_default`].
    pub fn mark(&self) -> Result<Mark> {
        let ev = fresh_event()?;
        // SAFETY: a fresh event recorded on this live stream.
        unsafe { event::record(ev, self.0) }
            .map_err(|e| anyhow!("recording a CUDA event: {e:?}"))?;
        Ok(Mark(ev))
    }
}

/// The default stream's waits on the communication stream: a pair of
/// timing events around each.
#[derive(Default, Clone)]
pub struct Waits(Arc<Mutex<Vec<(cuda::CUevent, cuda::CUevent)>>>);

// SAFETY: as above.
unsafe impl Send for Waits {}

fn timing_event() -> Result<cuda::CUevent> {
    event::create(cuda::CUevent_flags::CU_EVENT_DEFAULT)
        .map_err(|e| anyhow!("creating a CUDA event: {e:?}"))
}

impl Waits {
    /// The time the default stream stood waiting, over the waits since the
    /// last call (their events complete: synchronised on if not yet).
    pub fn take(&self) -> Duration {
        let pairs = std::mem::take(&mut *self.0.lock().unwrap());
        let mut total = 0.0f64;
        for (start, end) in pairs {
            // SAFETY: both recorded on the default stream by `join_default`; destroyed once, here.
            unsafe {
                let _ = event::synchronize(end);
                total += f64::from(event::elapsed(start, end).unwrap_or(0.0));
                let _ = event::destroy(start);
                let _ = event::destroy(end);
            }
        }
        Duration::from_secs_f64(total / 1e3)
    }
}

impl Mark {
    /// [`Mark::join_default`], timing the default stream's wait into `waits`.
    pub fn join_default_timed(self, waits: &Waits) -> Result<()> {
        let (start, end) = (timing_event()?, timing_event()?);
        // SAFETY: fresh events recorded on the default stream.
        unsafe { event::record(start, stream::null()) }.map_err(|e| anyhow!("{e:?}"))?;
        self.join_default()?;
        unsafe { event::record(end, stream::null()) }.map_err(|e| anyhow!("{e:?}"))?;
        waits.0.lock().unwrap().push((start, end));
        Ok(())
    }

    /// Makes the default stream wait until the marked point is done.
    pub fn join_default(self) -> Result<()> {
        // SAFETY: the event was recorded by `CommStream::mark`.
        unsafe {
            stream::wait_event(
                stream::null(),
                self.0,
                cuda::CUevent_wait_flags::CU_EVENT_WAIT_DEFAULT,
            )
        }
        .map_err(|e| anyhow!("ordering CUDA streams: {e:?}"))
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        // SAFETY: created by `CommStream::mark`, destroyed once; a wait
        // already queued on it is not affected.
        let _ = unsafe { event::destroy(self.0) };
    }
}

impl Drop for CommStream {
    fn drop(&mut self) {
        // SAFETY: created by `new`, destroyed once; the driver finishes its work first.
        let _ = unsafe { stream::destroy(self.0) };
    }
}
