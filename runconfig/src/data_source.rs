//! Where each dataset of the mixture comes from: a local `path`, a list of
//! `files`, or a dataset repository of the Hub (`hub`, with `split`,
//! `revision` and `name`). The rules are checked when a config is loaded,
//! so `launch check` refuses what the trainer would.

use crate::data::DatasetConfig;
use crate::repo_id;

/// Why dataset `i` does not say well where its rows come from, if it does not.
pub(crate) fn check(i: usize, d: &DatasetConfig) -> Result<(), String> {
    let key = |k: &str| format!("`data.datasets[{i}].{k}`");
    let example = "e.g. `hub: allenai/tulu-3-sft-mixture` or `path: data/train.jsonl`";
    match (&d.path, &d.hub, d.files.is_empty()) {
        (None, None, true) => {
            return Err(format!(
                "`data.datasets[{i}]` names no data: set `path` (a file or folder) or `hub` \
                 (a Hub dataset id), {example}"
            ))
        }
        (Some(_), Some(_), _) => {
            return Err(format!(
                "`data.datasets[{i}]` sets both `path` and `hub`: keep one ({example})"
            ))
        }
        (Some(_), None, false) => {
            return Err(format!(
                "`data.datasets[{i}]` sets both `path` and `files`: keep one"
            ))
        }
        _ => {}
    }
    match &d.hub {
        Some(id) => hub(&key("hub"), id, d, &key),
        None => only_with_hub(d, &key),
    }
}

fn hub(at: &str, id: &str, d: &DatasetConfig, key: &dyn Fn(&str) -> String) -> Result<(), String> {
    repo_id::resolve(id, None).map_err(|e| format!("{at}: {e}"))?;
    if d.split().trim().is_empty() {
        return Err(format!(
            "{}: empty; name a split such as train",
            key("split")
        ));
    }
    if let Some(why) = repo_id::revision_problem(d.revision()) {
        return Err(format!(
            "{}: {:?} is not a branch, tag or commit: {why}",
            key("revision"),
            d.revision()
        ));
    }
    Ok(())
}

fn only_with_hub(d: &DatasetConfig, key: &dyn Fn(&str) -> String) -> Result<(), String> {
    let set = [
        ("split", d.split.is_some()),
        ("revision", d.revision.is_some()),
        ("name", d.name.is_some()),
    ];
    match set.iter().find(|(_, on)| *on) {
        Some((k, _)) => Err(format!(
            "{}: applies to a Hub dataset (`hub: org/name`) only; a local `path` is read whole",
            key(k)
        )),
        None => Ok(()),
    }
}
