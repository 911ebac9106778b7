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

/// The node flags as typed, completed from the job's environment (Slurm,
/// MPI) and checked.
pub fn node(flags: &NodeArgs) -> Result<NodeOpts, Usage> {
    completed(flags, &|k| std::env::var(k).ok())
}

/// [`node`] with the environment read through `var`; what was detected is
/// recorded for the start banner.
fn completed(flags: &NodeArgs, var: &dyn Fn(&str) -> Option<String>) -> Result<NodeOpts, Usage> {
    let mut node = NodeOpts {
        nnodes: flags.nnodes.unwrap_or(1),
        node_rank: flags.node_rank.unwrap_or(0),
        master_addr: flags.master_addr.clone(),
        master_port: flags.master_port,
        run_id: flags.run_id.clone(),
        ..NodeOpts::default()
    };
    if let Some(d) = detect(var).map_err(Usage)? {
        node.nnodes = flags.nnodes.unwrap_or(d.nnodes);
        node.node_rank = flags.node_rank.unwrap_or(d.node_rank);
        node.detected = Some(d.describe());
        node.master_addr = node.master_addr.take().or(d.master_addr);
        node.master_port = node.master_port.or(d.master_port);
        node.job_id = d.job_id;
    }
    if node.nnodes == 0 || node.node_rank >= node.nnodes {
        return Err(Usage(format!(
            "--node-rank {} must be below --nnodes {}",
            node.node_rank, node.nnodes
        )));
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(nnodes: Option<usize>, node_rank: Option<usize>) -> NodeArgs {
        NodeArgs {
            nnodes,
            node_rank,
            master_addr: None,
            master_port: None,
            run_id: None,
        }
    }

    /// A Slurm job: node 1 of 2 on gpu07 and gpu08.
    fn slurm(k: &str) -> Option<String> {
        let value = match k {
            "SLURM_NNODES" => "2",
            "SLURM_NODEID" => "1",
            "SLURM_JOB_NODELIST" => "gpu[07-08]",
            "SLURM_JOB_ID" => "123456",
            _ => return None,
        };
        Some(value.into())
    }

    #[test]
    fn flags_left_out_come_from_the_job_and_flags_typed_win() {
        let node = completed(&typed(None, None), &slurm).unwrap();
        assert_eq!((node.nnodes, node.node_rank), (2, 1));
        assert_eq!(node.master_addr.as_deref(), Some("gpu07"));
        assert_eq!(node.job_id.as_deref(), Some("123456"));
        let node = completed(&typed(Some(3), Some(2)), &slurm).unwrap();
        assert_eq!((node.nnodes, node.node_rank), (3, 2));
    }

    #[test]
    fn a_node_rank_at_or_past_the_node_count_is_refused_after_the_job_fills_in() {
        let e = completed(&typed(None, Some(2)), &slurm).unwrap_err();
        assert_eq!(e.0, "--node-rank 2 must be below --nnodes 2");
        let alone = completed(&typed(None, None), &|_| None).unwrap();
        assert_eq!(
            (alone.nnodes, alone.node_rank, alone.detected),
            (1, 0, None)
        );
    }
}
