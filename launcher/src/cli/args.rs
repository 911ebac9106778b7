//! The grammar of `launch`, as clap's derive API reads it: `launch N ...`
//! is the top level's own arguments, every other form is a command. The
//! value parsers check each value as typed.

use super::help;
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

/// `launch`'s whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "launch",
    version = help::VERSION,
    about = help::ABOUT,
    override_usage = help::USAGE,
    after_help = help::AFTER,
    after_long_help = help::AFTER_LONG,
    args_conflicts_with_subcommands = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The command, when the first argument is not the number of processes.
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// `launch N CONFIG.yaml ...` or `launch N ... -- PROGRAM ...`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The commands other than `launch N ...`.
#[derive(Debug, Subcommand)]
pub enum Sub {
    #[command(about = help::CHECK, long_about = help::CHECK_LONG)]
    Check(CheckArgs),
    #[command(about = help::EXPORT, long_about = help::EXPORT_LONG)]
    #[command(override_usage = runconfig::contracts::export::USAGE_LINE)]
    Export(runconfig::contracts::export::ExportArgs),
    #[command(about = help::PUSH, long_about = help::PUSH_LONG)]
    #[command(after_help = help::PUSH_AFTER)]
    Push(crate::hub::PushArgs),
    #[command(about = help::STATUS)]
    Status(StatusArgs),
    #[command(about = help::PLOT, long_about = help::PLOT_LONG)]
    Plot(PlotArgs),
    #[command(about = help::COMPLETIONS, long_about = help::COMPLETIONS_LONG)]
    Completions(CompletionsArgs),
}

/// `launch N CONFIG.yaml [--set KEY=VALUE]...` and
/// `launch N [OPTIONS] -- PROGRAM [ARGS]...`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The number of processes (ranks) on this node
    #[arg(value_name = "N", value_parser = nproc)]
    pub nproc: Option<usize>,
    /// The run config (or a pipeline: a file with `stages:`)
    #[arg(value_name = "CONFIG.yaml")]
    pub config: Option<PathBuf>,
    /// Override any config key, e.g. --set train.micro_batch_size=4
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// A pipeline: train STAGE (and the stages from it) again from the
    /// start; the earlier result is moved aside, never deleted
    #[arg(long = "rerun", value_name = "STAGE")]
    pub rerun: Vec<String>,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Log folder name for PROGRAM runs (default: program name)
    #[arg(long, value_name = "NAME", value_parser = plain_name)]
    pub run_name: Option<String>,
    /// Restart the whole group up to K times (PROGRAM runs; configs use launcher.max_restarts)
    #[arg(long, value_name = "K", default_value_t = 0, value_parser = whole::<u32>)]
    pub max_restarts: u32,
    /// The program to run N times, with its arguments (after `--`)
    #[arg(last = true, value_name = "PROGRAM")]
    pub program: Vec<String>,
}

/// Where this node joins a multi-node run, as with torchrun.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Number of nodes (run `launch` on each), default 1; under `srun --ntasks-per-node=1` or `mpirun -N 1` the node flags come from Slurm's or MPI's variables (docs/multinode.md)
    #[arg(long, value_name = "K", value_parser = whole::<usize>)]
    pub nnodes: Option<usize>,
    /// This node's index, 0..K-1, default 0
    #[arg(long, value_name = "R", value_parser = whole::<usize>)]
    pub node_rank: Option<usize>,
    /// Node 0's address (multi-node), default 127.0.0.1
    #[arg(long, value_name = "HOST")]
    pub master_addr: Option<String>,
    /// Rendezvous port, default: any free port (29500 multi-node)
    #[arg(long, value_name = "PORT", value_parser = whole::<u16>)]
    pub master_port: Option<u16>,
    /// The run's shared secret (multi-node; or FERROSPEED_RUN_ID)
    #[arg(long, value_name = "SECRET")]
    pub run_id: Option<String>,
}

/// `launch check CONFIG.yaml [-n N] [--set KEY=VALUE]... [--device-memory SIZE] [--json]`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The run config or pipeline to check
    #[arg(value_name = "CONFIG.yaml")]
    pub config: PathBuf,
    /// Plan for N devices only (default: 1, 2 and 8)
    #[arg(short = 'n', long = "nproc", value_name = "N", value_parser = whole::<u32>)]
    pub nproc: Option<u32>,
    /// Override any config key, e.g. --set train.micro_batch_size=4
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Memory per device, e.g. 80GB: whether the run fits and what would make it fit
    #[arg(long, value_name = "SIZE", value_parser = runconfig::parse_size)]
    pub device_memory: Option<u64>,
    /// Print the memory plans as JSON
    #[arg(long)]
    pub json: bool,
}

/// `launch status OUTPUT_DIR`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A pipeline's output_dir
    #[arg(value_name = "OUTPUT_DIR")]
    pub dir: PathBuf,
}

/// `launch plot OUTPUT_DIR [--out DIR]`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A run's or a pipeline's output_dir
    #[arg(value_name = "OUTPUT_DIR")]
    pub dir: PathBuf,
    /// Where the charts go (default: OUTPUT_DIR/plots)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `launch completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// The first argument as the number of processes: a whole number of at
/// least 1 (else a command, perhaps mistyped).
fn nproc(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("the number of processes must be at least 1 (got 0)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(not_a_command(text)),
    }
}

/// A `--run-name` that names a log folder: a plain name, no path.
fn plain_name(text: &str) -> Result<String, String> {
    runconfig::plain_name(text).map(|()| text.to_string())
}

/// A flag's value as a whole number (in the range of `T`).
fn whole<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("must be a whole number, got {text:?}"))
}

/// The names of the commands, `help` included.
fn commands() -> Vec<String> {
    let mut cli = Cli::command();
    cli.build();
    let names = cli.get_subcommands().map(|c| c.get_name().to_string());
    names.collect()
}

/// The message for a first argument that is neither a number nor a command.
pub fn not_a_command(text: &str) -> String {
    let commands = commands();
    if commands.iter().any(|c| c == text) {
        return format!("`{text}` is a command: it comes first (`launch {text} --help`)");
    }
    let all = commands.join(", ");
    if text.is_empty() {
        return format!(
            "expected the number of processes or a command ({all}) first (see `launch --help`)"
        );
    }
    let near = commands
        .iter()
        .find(|c| strsim::jaro_winkler(c, text) > 0.8)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default();
    format!(
        "expected the number of processes or a command ({all}), got {text:?}{near} (see `launch --help`)"
    )
}
