//! Two "nodes" on one machine, started as Slurm's `srun` or `mpirun` start
//! them (only their environment variables, no node flags): 2 ranks each
//! train the same losses as `launch 4` on one node.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

const SETS: [&str; 1] = ["train.max_steps=6"];

/// A node's launcher of a 2-node job described by `env`, with `args`.
fn node(dir: &Path, out: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut c = tiny_pretrain(dir, 2, out, &SETS);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// Runs both nodes; returns node 0's output.
fn two_nodes(
    dir: &Path,
    out: &Path,
    env: impl Fn(usize) -> Vec<(String, String)>,
    args: &[&str],
) -> String {
    let n0 = node(dir, out, &env(0), args).spawn().unwrap();
    let n1 = node(dir, out, &env(1), args).spawn().unwrap();
    let (o0, o1) = (
        n0.wait_with_output().unwrap(),
        n1.wait_with_output().unwrap(),
    );
    assert!(o0.status.success(), "node 0: {}", text(&o0));
    assert!(o1.status.success(), "node 1: {}", text(&o1));
    text(&o0)
}

fn same_losses(dir: &Path, out: &Path) {
    let single = dir.join("single");
    run_ok(tiny_pretrain(dir, 4, &single, &SETS));
    let (want, got) = (
        losses(&single.join("metrics.jsonl")),
        losses(&out.join("metrics.jsonl")),
    );
    assert_eq!(want.len(), 6, "{want:?}");
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (s, w) in &want {
        let g = got[s];
        assert!((g - w).abs() <= 1e-6 * w.abs(), "step {s}: {g} vs {w}");
    }
}

fn vars(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn slurm_variables_alone_start_two_nodes_that_train_as_one() {
    let dir = scratch("multinode-slurm");
    let out = dir.join("out");
    let base = free_port().to_string();
    let said = two_nodes(
        &dir,
        &out,
        |rank| {
            vars(&[
                ("SLURM_NNODES", "2".into()),
                ("SLURM_NODEID", rank.to_string()),
                ("SLURM_JOB_NODELIST", "127.0.0.[1-2]".into()),
                ("SLURM_JOB_ID", "7000".into()),
                ("FERROSPEED_MASTER_PORT_BASE", base.clone()),
            ])
        },
        &[],
    );
    let banner = format!("launch: node 0 of 2 from Slurm (SLURM_NNODES, SLURM_NODEID, SLURM_JOB_NODELIST, SLURM_JOB_ID); node 0 at 127.0.0.1:{base}");
    assert!(said.contains(&banner), "{said}");
    let secret = out.join(".launch-secret-7000");
    let mode = std::os::unix::fs::PermissionsExt::mode(&secret.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the run secret is for this user only");
    same_losses(&dir, &out);
}

#[test]
fn mpi_variables_start_two_nodes_that_train_as_one() {
    let dir = scratch("multinode-mpi");
    let out = dir.join("out");
    let port = free_port().to_string();
    let said = two_nodes(
        &dir,
        &out,
        |rank| {
            vars(&[
                ("OMPI_COMM_WORLD_RANK", rank.to_string()),
                ("OMPI_COMM_WORLD_SIZE", "2".into()),
                ("MASTER_ADDR", "127.0.0.1".into()),
                ("FERROSPEED_RUN_ID", "mpi-secret".into()),
            ])
        },
        &["--master-port", &port],
    );
    assert!(said.contains("launch: node 0 of 2 from Open MPI"), "{said}");
    same_losses(&dir, &out);
}
