//! Choosing and connecting a backend from the rank's environment.

use super::{Comm, CpuComm, NcclComm};
use anyhow::{Context, Result};
use rendezvous::RankEnv;
use runconfig::CommKind;
use std::time::Duration;

/// Connects this rank to the others with the backend `kind` asks for; a
/// collective that does not complete within `env.comm_timeout` fails.
pub fn connect(env: &RankEnv, kind: CommKind) -> Result<Box<dyn Comm>> {
    let mut store = env
        .store(Duration::from_secs(120))
        .context("joining the run's rendezvous store")?;
    let kind = match kind {
        CommKind::Auto if crate::cuda::available() => CommKind::Nccl,
        CommKind::Auto => CommKind::Cpu,
        k => k,
    };
    match kind {
        CommKind::Cpu => Ok(Box::new(CpuComm::connect_within(
            env.rank,
            env.world_size,
            &mut store,
            env.comm_timeout,
        )?)),
        CommKind::Nccl => Ok(Box::new(NcclComm::connect(env, &mut store)?)),
        CommKind::Auto => unreachable!(),
    }
}
