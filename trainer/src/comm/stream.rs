//! The nccl backend's communication stream: NCCL's kernels run there, so
//! that they overlap the kernels libtorch runs on the default stream.
//! Ordering is by CUDA events, never by host syncs: a collective starts
//! after the work the default stream has queued so far (its input's
//! producers), and the default stream waits for the collective before it
//! uses the output.

use anyhow::{anyhow, Result};
use cudarc::driver::result::{event, stream};
use cudarc::driver::sys as cuda;

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

impl Mark {
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
