//! Which node of a multi-node job this `launch` is, read from what Slurm
//! (`srun`) or MPI (`mpirun`) put in its environment, so that
//! `srun --ntasks-per-node=1 launch 8 cfg.yaml` needs no other flag.
//! Flags given on the command line win over what is detected.

mod detect;
mod hostlist;
pub mod secret;

pub use detect::detect;

use crate::cli::NodeOpts;

/// Which node flags with a default the command line gave (an address or
/// port given is `Some` in the options).
#[derive(Debug, Default, Clone, Copy)]
pub struct Given {
    pub nnodes: bool,
    pub node_rank: bool,
}

/// Fills the node options the command line left out from the job's
/// environment (`var`); records what was detected for the start banner.
pub fn fill(
    node: &mut NodeOpts,
    given: Given,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let Some(d) = detect(var)? else {
        return Ok(());
    };
    if !given.nnodes {
        node.nnodes = d.nnodes;
    }
    if !given.node_rank {
        node.node_rank = d.node_rank;
    }
    node.detected = Some(d.describe());
    node.master_addr = node.master_addr.take().or(d.master_addr);
    node.master_port = node.master_port.or(d.master_port);
    node.job_id = d.job_id;
    Ok(())
}
