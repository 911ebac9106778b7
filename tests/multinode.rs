//! Two "nodes" on one machine, started as Slurm's `srun` or `mpirun` start
//! them (only their environment variables, no node flags): 2 ranks each
//! train the same losses as `launch 4` on one node; a rank killed on one
//! node restarts both together; a node whose launcher dies is named.

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SETS: [&str; 1] = ["train.max_steps=6"];
/// How long a run may take to reach a step.
const LIMIT: Duration = Duration::from_secs(300);

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

/// Node `rank`'s environment in a 2-node Slurm job `job` whose ports start at `base`.
fn slurm(rank: usize, job: &str, base: &str) -> Vec<(String, String)> {
    vars(&[
        ("SLURM_NNODES", "2".into()),
        ("SLURM_NODEID", rank.to_string()),
        ("SLURM_JOB_NODELIST", "127.0.0.[1-2]".into()),
        ("SLURM_JOB_ID", job.into()),
        ("FERROSPEED_MASTER_PORT_BASE", base.into()),
    ])
}

#[test]
fn slurm_variables_alone_start_two_nodes_that_train_as_one() {
    let dir = scratch("multinode-slurm");
    let out = dir.join("out");
    let base = free_port().to_string();
    let said = two_nodes(&dir, &out, |rank| slurm(rank, "7000", &base), &[]);
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

/// Both nodes of a Slurm job training `out` with `sets`; their output
/// goes to `dir/node-R.log` ([`said`]).
fn start_nodes(dir: &Path, out: &Path, sets: &[&str]) -> (Child, Child) {
    let base = free_port().to_string();
    let start = |rank: usize| {
        let log = std::fs::File::create(dir.join(format!("node-{rank}.log"))).unwrap();
        let mut c = tiny_pretrain(dir, 2, out, sets);
        c.envs(slurm(rank, "7100", &base))
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        c.spawn().unwrap()
    };
    (start(0), start(1))
}

/// What node `rank` of [`start_nodes`] printed.
fn said(dir: &Path, rank: usize) -> String {
    std::fs::read_to_string(dir.join(format!("node-{rank}.log"))).unwrap()
}

#[test]
fn a_rank_killed_on_one_node_restarts_every_node_to_the_same_weights() {
    let dir = scratch("multinode-restart");
    let (clean, crashed) = (dir.join("clean"), dir.join("crashed"));
    let sets = [
        "train.max_steps=40",
        "checkpoint.every_steps=5",
        "launcher.max_restarts=1",
    ];
    run_ok(tiny_pretrain(&dir, 4, &clean, &sets));
    let (mut n0, mut n1) = start_nodes(&dir, &crashed, &sets);
    reach_step(&crashed, 7, LIMIT);
    kill_rank(n1.id(), 3);
    for (node, child) in [(0, &mut n0), (1, &mut n1)] {
        let status = wait_within(child, Duration::from_secs(300));
        let said = said(&dir, node);
        assert!(status.success(), "node {node}: {said}");
        assert!(
            said.contains("restarting the group (restart 1 of 1)"),
            "node {node}: {said}"
        );
    }
    let why = "another node failed: node 1: rank 3 was killed by signal 9";
    assert!(said(&dir, 0).contains(why), "{}", said(&dir, 0));
    let metrics = std::fs::read_to_string(crashed.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"resumed_step\":"), "the restart resumed");
    let weights = |out: &Path| tensor_bytes(&out.join("final/model.safetensors"));
    assert!(
        weights(&clean) == weights(&crashed),
        "the final weights differ from an uninterrupted run"
    );
}

#[test]
fn a_node_whose_launcher_dies_is_named_by_the_other() {
    let dir = scratch("multinode-dead");
    let out = dir.join("out");
    let sets = ["train.max_steps=100000", "comm_timeout_s=6"];
    let (mut n0, mut n1) = start_nodes(&dir, &out, &sets);
    reach_step(&out, 2, LIMIT);
    n1.kill().unwrap();
    n1.wait().unwrap();
    let killed = Instant::now();
    let status = wait_within(&mut n0, Duration::from_secs(120));
    let said = said(&dir, 0);
    assert_eq!(status.code(), Some(1), "{said}");
    let named = said
        .lines()
        .find(|l| l.starts_with("launch: error: node 1 (") && l.contains(") stopped answering"));
    assert!(named.is_some(), "node 0 names node 1: {said}");
    // The name comes within comm_timeout_s (a generous bound for a busy machine).
    assert!(killed.elapsed() < Duration::from_secs(30), "{said}");
}

#[test]
fn when_node_0_dies_the_other_node_names_it() {
    let dir = scratch("multinode-head");
    let out = dir.join("out");
    let (mut n0, mut n1) = start_nodes(&dir, &out, &["train.max_steps=100000"]);
    reach_step(&out, 2, LIMIT);
    n0.kill().unwrap();
    n0.wait().unwrap();
    let status = wait_within(&mut n1, Duration::from_secs(120));
    let said = said(&dir, 1);
    assert_eq!(status.code(), Some(1), "{said}");
    let want = "launch: error: node 0 (127.0.0.1) stopped answering: its rendezvous store is gone";
    assert!(said.contains(want), "{said}");
}
