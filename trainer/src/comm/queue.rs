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

/// Which collective a job runs.
enum Op {
    Gather,
    Scatter,
    /// In place: the result shares the input's storage.
    Reduce,
    Barrier,
}

/// A collective for the thread, with where its result goes.
struct Job {
    op: Op,
    input: Tensor,
    reply: Sender<Result<Tensor>>,
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

    fn submit(&self, op: Op, input: &Tensor) -> Pending {
        let (reply, rx) = channel();
        let input = input.shallow_clone();
        match self.jobs.send(Job { op, input, reply }) {
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
    for Job { op, input, reply } in queue {
        let result = match &broken {
            Some(why) => Err(anyhow!("{why}")),
            None => run(inner, op, input),
        };
        if let Err(e) = &result {
            broken.get_or_insert_with(|| format!("{e:#}"));
        }
        let _ = reply.send(result);
    }
}

/// One collective on `inner`.
fn run(inner: &mut dyn Comm, op: Op, mut input: Tensor) -> Result<Tensor> {
    match op {
        Op::Gather => inner.all_gather(&input),
        Op::Scatter => inner.reduce_scatter(&input, ReduceOp::Sum),
        Op::Reduce => inner.all_reduce(&mut input, ReduceOp::Sum).map(|()| input),
        Op::Barrier => inner.barrier().map(|()| input),
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
        // Reduced in place: the job's tensor shares this one's storage.
        self.submit(Op::Reduce, tensor).wait().map(drop)
    }

    fn barrier(&mut self) -> Result<()> {
        self.submit(Op::Barrier, &Tensor::new()).wait().map(drop)
    }

    fn overlaps(&self) -> bool {
        true
    }

    fn take_wait(&mut self) -> Duration {
        std::mem::take(&mut *self.waited.lock().unwrap())
    }

    fn start_all_gather(&mut self, input: &Tensor) -> Result<Pending> {
        Ok(self.submit(Op::Gather, input))
    }

    fn start_reduce_scatter(&mut self, input: &Tensor, ReduceOp::Sum: ReduceOp) -> Result<Pending> {
        Ok(self.submit(Op::Scatter, input))
    }
}
