//! Before any rank starts: a run whose output_dir says it finished, with the
//! same configuration, is not trained again (see `runconfig::contracts::finished`).

use runconfig::contracts::finished::{applies, state, State};
use runconfig::{Config, Plan};

/// Whether the run is already complete; prints what it found.
pub fn complete(config: &Config, plan: &Plan) -> bool {
    if !applies(config) {
        return false;
    }
    let out = config.output_dir();
    match state(config, plan) {
        State::NotFinished => false,
        State::Finished { step, final_dir } => {
            println!(
                "launch: the run is complete: it finished after step {step}; its weights are in {}. Nothing to train (to train again from the start: --set checkpoint.resume=never)",
                final_dir.display()
            );
            true
        }
        State::Changed { key, was, now } => {
            println!(
                "launch: {} holds a run that finished with `{key}` = {was}; the config now says {now}, so it is not the same run",
                out.display()
            );
            false
        }
        State::FinalMissing { final_dir } => {
            println!(
                "launch: {} holds a finished run, but {} is missing; the run resumes from its last checkpoint to write it again",
                out.display(),
                final_dir.display()
            );
            false
        }
    }
}
