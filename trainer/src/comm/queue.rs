//! A backend's collectives on a communication thread of their own, so that
//! they overlap the compute of the thread that started them (what a CUDA
//! communication stream gives NCCL). Collectives run one at a time in the
//! order they were started: every rank starts the same sequence, so the
//! ring sees the same sequence on every rank.

use super::{Comm, Pending, ReduceOp};
use anyhow::{anyhow, Context, Result};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tch::Tensor;

/// A collective for the thread, with where its result goes.
enum Job {
    Gather(Tensor, Sender<Result<Tensor>>),
    Scatter(Tensor, Sender<Result<Tensor>>),
    Reduce(Tensor, Sender<Result<Tensor>>),
    Barrier(Sender<Result<Tensor>>),
}

/// A backend driven by its own thread.
pub struct Queued {
    rank: usize,
    world: usize,
    /// Time spent waiting for results, shared with the pending handles.
    waited: Arc<Mutex<Duration>>,
    jobs: Sender<Job>,
}

impl Queued {
    /// Moves `inner` onto a new communication thread.
    pub fn start(mut inner: Box<dyn Comm + Send>) -> Result<Queued> {
        let (rank, world) = (inner.rank(), inner.world_size());
        let (jobs, queue) = channel::<Job>();
        // The thread ends once the queue is closed and what it held has run.
        // It is never waited for: after a failure elsewhere, a collective in
        // flight may wait for peers until the collective timeout, and the
        // process should not.
        std::thread::Builder::new()
            .name("comm".into())
            .spawn(move || serve(inner.as_mut(), queue))
            .context("cannot start the communication thread")?;
        Ok(Queued {
            rank,
            world,
            waited: Arc::default(),
            jobs,
        })
    }

    fn submit(&self, job: impl FnOnce(Sender<Result<Tensor>>) -> Job) -> Pending {
        let (tx, rx) = channel();
        match self.jobs.send(job(tx)) {
            Ok(()) => {
                let waited = self.waited.clone();
                Pending::later(move || {
                    let since = Instant::now();
                    let out = receive(&rx);
                    *waited.lock().unwrap() += since.elapsed();
                    out
                })
            }
            Err(_) => Pending::ready(Err(anyhow!("the communication thread has ended"))),
        }
    }
}

fn receive(rx: &Receiver<Result<Tensor>>) -> Result<Tensor> {
    rx.recv()
        .map_err(|_| anyhow!("the communication thread ended during a collective"))?
}

/// The thread: runs each job on `inner` and answers it. After a failure
/// every later job fails with the same words (the ring is broken).
fn serve(inner: &mut dyn Comm, queue: Receiver<Job>) {
    let mut broken: Option<String> = None;
    for job in queue {
        let run = |f: &mut dyn FnMut() -> Result<Tensor>, broken: &mut Option<String>| {
            if let Some(why) = broken.as_ref() {
                return Err(anyhow!("{why}"));
            }
            let r = f();
            if let Err(e) = &r {
                *broken = Some(format!("{e:#}"));
            }
            r
        };
        let _ = match job {
            Job::Gather(t, tx) => tx.send(run(&mut || inner.all_gather(&t), &mut broken)),
            Job::Scatter(t, tx) => tx.send(run(
                &mut || inner.reduce_scatter(&t, ReduceOp::Sum),
                &mut broken,
            )),
            Job::Reduce(t, tx) => tx.send(run(
                &mut || {
                    let mut t = t.shallow_clone();
                    inner.all_reduce(&mut t, ReduceOp::Sum).map(|()| t)
                },
                &mut broken,
            )),
            Job::Barrier(tx) => tx.send(run(
                &mut || inner.barrier().map(|()| Tensor::new()),
                &mut broken,
            )),
        };
    }
}

impl Comm for Queued {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world
    }

    fn all_gather(&mut self, input: &Tensor) -> Result<Tensor> {
        self.start_all_gather(input)?.wait()
    }

    fn reduce_scatter(&mut self, input: &Tensor, op: ReduceOp) -> Result<Tensor> {
        self.start_reduce_scatter(input, op)?.wait()
    }

    fn all_reduce(&mut self, tensor: &mut Tensor, ReduceOp::Sum: ReduceOp) -> Result<()> {
        // The result shares the tensor's storage: reduced in place.
        let t = tensor.shallow_clone();
        self.submit(|tx| Job::Reduce(t, tx)).wait().map(drop)
    }

    fn barrier(&mut self) -> Result<()> {
        self.submit(Job::Barrier).wait().map(drop)
    }

    fn overlaps(&self) -> bool {
        true
    }

    fn take_wait(&mut self) -> Duration {
        std::mem::take(&mut *self.waited.lock().unwrap())
    }

    fn start_all_gather(&mut self, input: &Tensor) -> Result<Pending> {
        let t = input.shallow_clone();
        Ok(self.submit(|tx| Job::Gather(t, tx)))
    }

    fn start_reduce_scatter(&mut self, input: &Tensor, ReduceOp::Sum: ReduceOp) -> Result<Pending> {
        let t = input.shallow_clone();
        Ok(self.submit(|tx| Job::Scatter(t, tx)))
    }
}
