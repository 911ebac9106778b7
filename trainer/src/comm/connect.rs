//! Choosing and connecting a backend from the rank's environment.

use super::{Comm, CpuComm, NcclComm, Queued};
use anyhow::{Context, Result};
use rendezvous::RankEnv;
use runconfig::CommKind;
use std::time::Duration;

/// Connects this rank to the others with the backend `kind` asks for; a
/// collective that does not complete within `env.comm_timeout` fails. With
/// `overlap`, the cpu backend's collectives run on a communication thread
/// (they then overlap the compute that started them).
pub fn connect(env: &RankEnv, kind: CommKind, overlap: bool) -> Result<Box<dyn Comm>> {
    let mut store = env
        .store(Duration::from_secs(120))
        .context("joining the run's rendezvous store")?;
    let kind = match kind {
        CommKind::Auto if crate::cuda::available() => CommKind::Nccl,
        CommKind::Auto => CommKind::Cpu,
        k => k,
    };
    match kind {
        CommKind::Cpu => {
            let cpu =
                CpuComm::connect_within(env.rank, env.world_size, &mut store, env.comm_timeout)?;
            // The ring's transfers then overlap this thread's compute.
            match overlap && env.world_size > 1 {
                true => Ok(Box::new(Queued::start(Box::new(cpu))?)),
                false => Ok(Box::new(cpu)),
            }
        }
        CommKind::Nccl => Ok(Box::new(NcclComm::connect(env, &mut store)?)),
        CommKind::Auto => unreachable!(),
    }
}
