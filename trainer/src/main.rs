//! `trainer`: one rank of a Ferrospeed run, started by `launch`.
//!
//! `trainer` trains from the resolved config `launch` hands over;
//! `trainer probe` joins the world, does one all-reduce and exits (used by
//! the launch benchmark and tests); `trainer export CHECKPOINT OUT [OPTIONS]`
//! writes the Hugging Face export of a checkpoint (what `launch export`
//! runs); a refused OUT or a bad option exits 2.

use anyhow::{Context, Result};
use rendezvous::RankEnv;
use runconfig::contracts::export::{ExportArgs, Refused};
use std::process::ExitCode;
use std::time::Instant;
use tch::Tensor;
use trainer::comm::{self, ReduceOp};

fn main() -> ExitCode {
    trainer::memory::tune_heap();
    trainer::logging::init();
    if let Err(e) = trainer::libtorch::check() {
        eprintln!("trainer: error: {e}");
        return ExitCode::from(2);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("export") {
        let request = match ExportArgs::parse(&args[1..]) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("export: error: {e}");
                return ExitCode::from(2);
            }
        };
        return match trainer::ckpt::export_checkpoint(&request) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("export: error: {e:#}");
                ExitCode::from(if e.is::<Refused>() { 2 } else { 1 })
            }
        };
    }
    let env = match RankEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("trainer: error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("probe") => probe(&env),
        None => trainer::run::train(&env),
        Some(other) => Err(anyhow::anyhow!(
            "unknown trainer command {other:?} (expected none, or `probe`)"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trainer rank {}: error: {e:#}", env.rank);
            ExitCode::FAILURE
        }
    }
}

/// Joins the world over the cpu backend and sums each rank's index.
fn probe(env: &RankEnv) -> Result<()> {
    let start = Instant::now();
    let mut comm = comm::connect(env, runconfig::CommKind::Cpu, false)?;
    let mut t = Tensor::from_slice(&[env.rank as f32]);
    comm.all_reduce(&mut t, ReduceOp::Sum)
        .context("probe all-reduce")?;
    let want = (env.world_size * (env.world_size - 1) / 2) as f32;
    let got = t.double_value(&[0]) as f32;
    anyhow::ensure!(got == want, "probe all-reduce gave {got}, expected {want}");
    println!(
        "probe: rank {}/{} all-reduce ok (sum {got}) after {:.1} ms",
        env.rank,
        env.world_size,
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
