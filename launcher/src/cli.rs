//! Command-line parsing for `launch`. Hand-written so that the help text can
//! teach, and so that `launch 4 config.yaml` and `launch 4 -- prog` both read
//! naturally.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

pub const HELP: &str = "\
launch: run a Ferrospeed training job, or any program, as N ranked processes.

USAGE:
  launch N CONFIG.yaml [--set KEY=VALUE]...   train with N processes on this node
  launch N [OPTIONS] -- PROGRAM [ARGS]...     run PROGRAM N times with rank variables
  launch check CONFIG.yaml [-n N] [--set KEY=VALUE]... [--device-memory 80GB] [--json]
                                              validate and print the plan and the memory
                                              each device needs (at 1, 2 and 8 devices,
                                              or N); with --device-memory: whether it fits
                                              and what would make it fit; run nothing
  launch export CHECKPOINT OUT_DIR [--overwrite] [--dtype D] [--max-shard-size SIZE]
                                              write a checkpoint (any world size) as a
                                              Hugging Face model folder; CHECKPOINT is a
                                              step folder, or a run's output_dir or its
                                              checkpoints/ folder (the newest, `latest`).
                                              OUT_DIR must be new or empty; --overwrite
                                              replaces an earlier export, never other files.
                                              --dtype bf16|f32|compute, --max-shard-size 5GB:
                                              as export.dtype / export.max_shard_size
  launch push DIR --repo NAMESPACE/NAME       push a folder to the Hugging Face Hub
                                              (private unless --public; --token, --revision,
                                              --commit-message; see `launch push --help`)
  launch N PIPELINE.yaml                      run a pipeline (a file with `stages:`): each
                                              job as fresh processes, one at a time; a re-run
                                              skips completed jobs and resumes the rest
  launch status OUTPUT_DIR                    a pipeline's ledger as a table
  launch plot OUTPUT_DIR [--out DIR]          PNG charts of a run's metrics.jsonl (loss,
                                              learning rate, grad norm, tokens/s, DPO
                                              rewards) in OUTPUT_DIR/plots or DIR; for a
                                              pipeline one folder per stage. Works while
                                              the run goes; writes only its chart files
  launch help                                 this text

Each rank gets RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
MASTER_PORT (the rendezvous store), FERROSPEED_RUN_ID (the store's secret) and
FERROSPEED_ATTEMPT; with a config also FERROSPEED_CONFIG (the resolved YAML).
Rank r's output goes to logs/<run_name>/<timestamp>/rank-<r>.log; rank 0 is
echoed here with a [rank0] prefix. If a rank fails, the others are stopped.
A run that finished leaves <output_dir>/finished: re-running the same command
reports it complete and trains nothing (--set checkpoint.resume=never: train again).

OPTIONS:
  --set KEY=VALUE      override any config key, e.g. --set train.micro_batch_size=4
  --nnodes K           number of nodes (run `launch` on each), default 1; under
                       `srun --ntasks-per-node=1` or `mpirun -N 1` the node flags
                       come from Slurm's or MPI's variables (docs/multinode.md)
  --node-rank R        this node's index, 0..K-1, default 0
  --master-addr HOST   node 0's address (multi-node), default 127.0.0.1
  --master-port PORT   rendezvous port, default: any free port (29500 multi-node)
  --run-id SECRET      the run's shared secret (multi-node; or FERROSPEED_RUN_ID)
  --run-name NAME      log folder name for PROGRAM runs (default: program name)
  --max-restarts K     restart the whole group up to K times (PROGRAM runs;
                       configs use launcher.max_restarts)
";

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

/// What the user asked for.
#[derive(Debug)]
pub enum Command {
    Help,
    Check {
        config: PathBuf,
        nproc: Option<u32>,
        sets: Vec<String>,
        /// `--device-memory`: bytes per device to plan against.
        device_memory: Option<u64>,
        /// `--json`: print the memory plans as JSON.
        json: bool,
    },
    Push {
        args: Vec<String>,
    },
    /// `launch status OUTPUT_DIR`: a pipeline's ledger.
    Status {
        dir: PathBuf,
    },
    /// `launch plot OUTPUT_DIR [--out DIR]`: charts of a run or a pipeline.
    Plot {
        dir: PathBuf,
        out: Option<PathBuf>,
    },
    Export(runconfig::export::ExportArgs),
    Train {
        nproc: usize,
        config: PathBuf,
        sets: Vec<String>,
        node: NodeOpts,
    },
    Program {
        nproc: usize,
        program: String,
        args: Vec<String>,
        node: NodeOpts,
        run_name: Option<String>,
        max_restarts: u32,
    },
}

fn value<'a>(it: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<&'a String> {
    it.next()
        .with_context(|| format!("{flag} needs a value (see `launch help`)"))
}

fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T> {
    text.parse()
        .ok()
        .with_context(|| format!("{what} must be a whole number, got {text:?}"))
}

/// Parses `launch`'s arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Command> {
    let Some(first) = args.first() else {
        return Ok(Command::Help);
    };
    let rest = &args[1..];
    match first.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "push" => Ok(Command::Push {
            args: rest.to_vec(),
        }),
        "export" => runconfig::export::ExportArgs::parse(rest)
            .map(Command::Export)
            .map_err(anyhow::Error::msg),
        "check" => parse_check(rest),
        "status" => match rest {
            [dir] => Ok(Command::Status { dir: dir.into() }),
            _ => bail!("`launch status` needs one OUTPUT_DIR (a pipeline's output_dir)"),
        },
        "plot" => parse_plot(rest),
        _ => {
            let nproc: usize = first.parse().ok().with_context(|| {
                format!("expected the number of processes or a command (check, export, plot, push, status, help), got {first:?}; see `launch help`")
            })?;
            if nproc == 0 {
                bail!("the number of processes must be at least 1 (got 0)");
            }
            parse_run(nproc, rest)
        }
    }
}

/// `launch check CONFIG.yaml [-n N] [--set KEY=VALUE]... [--device-memory SIZE] [--json]`
/// (after `check`).
fn parse_check(rest: &[String]) -> Result<Command> {
    let mut it = rest.iter();
    let (mut config, mut nproc, mut sets) = (None, None, Vec::new());
    let (mut device_memory, mut json) = (None, false);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--set" => sets.push(value(&mut it, a)?.clone()),
            "-n" | "--nproc" => nproc = Some(number(value(&mut it, a)?, "-n")?),
            "--json" => json = true,
            "--device-memory" => {
                let text = value(&mut it, a)?;
                let bytes = runconfig::parse_size(text)
                    .map_err(|e| anyhow::anyhow!("--device-memory: {e}"))?;
                device_memory = Some(bytes);
            }
            s if s.starts_with('-') => {
                bail!("unknown option {s} for `launch check` (see `launch help`)")
            }
            s if config.is_none() => config = Some(PathBuf::from(s)),
            s => bail!("unexpected argument {s:?} after the config file"),
        }
    }
    let config = config.context("`launch check` needs a CONFIG.yaml")?;
    Ok(Command::Check {
        config,
        nproc,
        sets,
        device_memory,
        json,
    })
}

/// Completes `node` from the job's environment (Slurm, MPI) and checks it.
fn fill(node: &mut NodeOpts, given: crate::cluster::Given) -> Result<()> {
    crate::cluster::fill(node, given, &|k| std::env::var(k).ok()).map_err(anyhow::Error::msg)?;
    if node.nnodes == 0 || node.node_rank >= node.nnodes {
        bail!(
            "--node-rank {} must be below --nnodes {}",
            node.node_rank,
            node.nnodes
        );
    }
    Ok(())
}

/// `launch plot OUTPUT_DIR [--out DIR]` (after `plot`).
fn parse_plot(rest: &[String]) -> Result<Command> {
    let (mut dir, mut out) = (None, None);
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(value(&mut it, a)?)),
            s if s.starts_with('-') => {
                bail!("unknown option {s} for `launch plot` (see `launch help`)")
            }
            s if dir.is_none() => dir = Some(PathBuf::from(s)),
            s => bail!("unexpected argument {s:?}: `launch plot` takes one OUTPUT_DIR"),
        }
    }
    let dir =
        dir.context("`launch plot` needs an OUTPUT_DIR (a run's or a pipeline's output_dir)")?;
    Ok(Command::Plot { dir, out })
}

/// `launch N CONFIG.yaml [OPTIONS]` or `launch N [OPTIONS] -- PROGRAM [ARGS]...`
/// (after `N`).
fn parse_run(nproc: usize, rest: &[String]) -> Result<Command> {
    let mut node = NodeOpts {
        nnodes: 1,
        ..NodeOpts::default()
    };
    let (mut config, mut sets, mut run_name, mut max_restarts) = (None, Vec::new(), None, 0);
    let mut given = crate::cluster::Given::default();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--" => {
                fill(&mut node, given)?;
                let program = it
                    .next()
                    .context("`--` must be followed by the program to run")?
                    .clone();
                if config.is_some() {
                    bail!("give either a CONFIG.yaml or `-- PROGRAM`, not both");
                }
                let args = it.cloned().collect();
                return Ok(Command::Program {
                    nproc,
                    program,
                    args,
                    node,
                    run_name,
                    max_restarts,
                });
            }
            "--set" => sets.push(value(&mut it, a)?.clone()),
            "--nnodes" => {
                node.nnodes = number(value(&mut it, a)?, "--nnodes")?;
                given.nnodes = true;
            }
            "--node-rank" => {
                node.node_rank = number(value(&mut it, a)?, "--node-rank")?;
                given.node_rank = true;
            }
            "--master-addr" => node.master_addr = Some(value(&mut it, a)?.clone()),
            "--master-port" => {
                node.master_port = Some(number(value(&mut it, a)?, "--master-port")?)
            }
            "--run-id" => node.run_id = Some(value(&mut it, a)?.clone()),
            "--run-name" => {
                let name = value(&mut it, a)?;
                runconfig::plain_name(name).map_err(|e| anyhow::anyhow!("--run-name {e}"))?;
                run_name = Some(name.clone());
            }
            "--max-restarts" => max_restarts = number(value(&mut it, a)?, "--max-restarts")?,
            s if s.starts_with('-') => bail!("unknown option {s} (see `launch help`)"),
            s if config.is_none() => config = Some(PathBuf::from(s)),
            s => {
                bail!("unexpected argument {s:?}; to run a program use `launch N -- PROGRAM ARGS`")
            }
        }
    }
    fill(&mut node, given)?;
    let config = config.context("missing CONFIG.yaml (or `-- PROGRAM`); see `launch help`")?;
    Ok(Command::Train {
        nproc,
        config,
        sets,
        node,
    })
}
