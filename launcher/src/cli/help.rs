//! The help texts of `launch`: they teach what each command does; clap
//! adds the lists of commands, arguments and options.

/// `launch --version`: the version and the libtorch the trainer needs.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (the trainer needs libtorch ",
    libtorch_version!(),
    ", from torch==",
    libtorch_version!(),
    ")"
);

/// What `launch` is, first line of every top-level help.
pub const ABOUT: &str =
    "launch: run a Ferrospeed training job, or any program, as N ranked processes.";

/// The forms of `launch`, after `Usage: `.
pub const USAGE: &str = "\
launch N CONFIG.yaml [--set KEY=VALUE]...   train with N processes on this node
       launch N [OPTIONS] -- PROGRAM [ARGS]...     run PROGRAM N times with rank variables
       launch N PIPELINE.yaml                      run a pipeline (a file with `stages:`): each
                                                   job as fresh processes, one at a time; a re-run
                                                   skips completed jobs and resumes the rest
       launch COMMAND [ARGS]...                    check, export, push, status, plot, completions,
                                                   help (`launch COMMAND --help` for one)";

/// After `launch -h`.
pub const AFTER: &str = "`launch --help` says more: what each rank gets, where its output goes.";

/// After `launch --help`.
pub const AFTER_LONG: &str = "\
Each rank gets RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
MASTER_PORT (the rendezvous store), FERROSPEED_RUN_ID (the store's secret) and
FERROSPEED_ATTEMPT; with a config also FERROSPEED_CONFIG (the resolved YAML).
Rank r's output goes to logs/<run_name>/<timestamp>/rank-<r>.log, each line
after its UTC time (logging.format: json writes JSON lines); rank 0 is echoed
here with a [rank0] prefix. FERROSPEED_LOG=debug (or RUST_LOG) adds the
rendezvous, the Hub requests and the collectives' timings. If a rank fails,
the others are stopped.
A run that finished leaves <output_dir>/finished: re-running the same command
reports it complete and trains nothing (--set checkpoint.resume=never: train again).

Exit status: 0 success, 1 a rank failed, 2 a mistake in the command or the
YAML (nothing was started), 128+n stopped by signal n.";

/// `launch check`, in the list of commands.
pub const CHECK: &str = "Validate and print the plan and the memory each device needs; run nothing";
/// `launch check --help`.
pub const CHECK_LONG: &str = "\
launch check: validate and print the plan and the memory each device needs (at
1, 2 and 8 devices, or N); with --device-memory: whether it fits and what would
make it fit; run nothing.";

/// `launch export`, in the list of commands.
pub const EXPORT: &str = "Write a checkpoint (any world size) as a Hugging Face model folder";
/// `launch export --help`.
pub const EXPORT_LONG: &str = "\
launch export: write a checkpoint (any world size) as a Hugging Face model
folder; CHECKPOINT is a step folder, or a run's output_dir or its checkpoints/
folder (the newest, `latest`). OUT_DIR must be new or empty; --overwrite
replaces an earlier export, never other files. --dtype bf16|f32|compute,
--max-shard-size 5GB: as export.dtype / export.max_shard_size.";

/// `launch push`, in the list of commands.
pub const PUSH: &str = "Push a folder to the Hugging Face Hub (private unless --public)";
/// `launch push --help`.
pub const PUSH_LONG: &str =
    "launch push: push a folder to the Hugging Face Hub (model repository).";
/// After `launch push --help`.
pub const PUSH_AFTER: &str = "\
The endpoint is $HF_ENDPOINT (default https://huggingface.co); HF_HUB_OFFLINE=1
refuses to push. Files the Hub already has are not uploaded again. Never
uploaded: .git/, .env files, and the files only Ferrospeed reads (.lock,
.launch-secret-*, .ferrospeed-*, finished markers).";

/// `launch status`, in the list of commands.
pub const STATUS: &str = "A pipeline's ledger as a table";

/// `launch plot`, in the list of commands.
pub const PLOT: &str = "PNG charts of a run's metrics.jsonl, or of each stage of a pipeline";
/// `launch plot --help`.
pub const PLOT_LONG: &str = "\
launch plot: PNG charts of a run's metrics.jsonl (loss, learning rate, grad
norm, tokens/s, DPO rewards) in OUTPUT_DIR/plots or DIR; for a pipeline one
folder per stage. Works while the run goes; writes only its chart files.";

/// `launch completions`, in the list of commands.
pub const COMPLETIONS: &str = "Print a completion script for bash, zsh or fish";
/// `launch completions --help`.
pub const COMPLETIONS_LONG: &str = "\
launch completions: print a completion script for the shell, e.g. in ~/.bashrc:
  source <(launch completions bash)
zsh: launch completions zsh > ~/.zfunc/_launch; fish: launch completions fish
> ~/.config/fish/completions/launch.fish.";
