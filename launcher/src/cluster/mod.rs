//! Which node of a multi-node job this `launch` is, read from what Slurm
//! (`srun`) or MPI (`mpirun`) put in its environment, so that
//! `srun --ntasks-per-node=1 launch 8 cfg.yaml` needs no other flag.
//! Flags given on the command line win over what is detected: the command
//! line is read first, as typed ([`NodeArgs`]), and [`node`] completes it.

mod detect;
mod hostlist;
pub mod secret;

pub use detect::detect;

use crate::cli::{NodeArgs, Usage};

/// Where and how this node joins the run.
#[derive(Debug, Clone, Default)]
pub struct NodeOpts {
    pub nnodes: usize,
    pub node_rank: usize,
    pub master_addr: Option<String>,
    pub master_port: Option<u16>,
    pub run_id: Option<String>,
    /// The scheduler's job id, when detected (Slurm).
    pub job_id: Option<String>,
    /// What was read from the job's environment, for the start banner.
    pub detected: Option<String>,
}

/// Which node flags with a default the command line gave (an address or
/// port given is `Some` in the options).
#[derive(Debug, Default, Clone, Copy)]
struct Given {
    nnodes: bool,
    node_rank: bool,
}

/// Fills the node options the command line left out from the job's
/// environment (`var`); records what was detected for the start banner.
fn fill(
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

/// The node flags, completed from the job's environment (Slurm, MPI) and
/// checked.
pub fn node(flags: &NodeArgs) -> Result<NodeOpts, Usage> {
    let mut node = NodeOpts {
        nnodes: flags.nnodes.unwrap_or(1),
        node_rank: flags.node_rank.unwrap_or(0),
        master_addr: flags.master_addr.clone(),
        master_port: flags.master_port,
        run_id: flags.run_id.clone(),
        ..NodeOpts::default()
    };
    let given = Given {
        nnodes: flags.nnodes.is_some(),
        node_rank: flags.node_rank.is_some(),
    };
    fill(&mut node, given, &|k| std::env::var(k).ok()).map_err(Usage)?;
    if node.nnodes == 0 || node.node_rank >= node.nnodes {
        return Err(Usage(format!(
            "--node-rank {} must be below --nnodes {}",
            node.node_rank, node.nnodes
        )));
    }
    Ok(node)
}
