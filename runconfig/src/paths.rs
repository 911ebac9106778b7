//! Where relative paths point. What a run reads (the model, its config.json,
//! the tokenizer, the datasets, a chat template file) follows the config
//! file: a relative path there resolves against the file's folder, so that
//! a config works from any working directory; one given with `--set`
//! resolves against the current directory, as the user typed it (one in a
//! pipeline stage's `set:` against the pipeline file's folder). What a run
//! writes (`checkpoint.output_dir`, by default `output/<run_name>`, and the
//! checkpoint `checkpoint.resume` names, which lives there) resolves against
//! the current directory, like `--output_dir` of open-instruct and
//! Hugging Face scripts. The config handed to the ranks holds absolute paths.
//! A model, tokenizer or adapter path that does not exist and reads as a Hub repo id
//! (`org/name`) stays as written: the launcher resolves it.

use crate::repo_id;
use crate::schema::{Config, Resume, TemplateSource};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Makes every relative input path of `config` absolute against `base`.
pub(crate) fn inputs(config: &mut Config, base: &Path) {
    let m = &mut config.model;
    for p in [&mut m.path, &mut m.tokenizer, &mut m.adapter]
        .into_iter()
        .flatten()
    {
        // A Hub id stays an id unless a folder of that name is here.
        if repo_id::hub_id(p).is_none() || base.join(&*p).exists() {
            absolute(p, base);
        }
    }
    if let Some(p) = &mut m.config {
        absolute(p, base);
    }
    for d in &mut config.data.datasets {
        for p in d.path.iter_mut().chain(d.files.iter_mut()) {
            absolute(p, base);
        }
    }
    if let Some(TemplateSource::File(p)) = &mut config.data.chat_template {
        absolute(p, base);
    }
}

/// Makes the run's outputs absolute against `cwd`: the output_dir (as set,
/// or the default one) and a checkpoint folder to resume from.
pub(crate) fn outputs(config: &mut Config, cwd: &Path) {
    let mut out = config.output_dir();
    absolute(&mut out, cwd);
    config.checkpoint.output_dir = Some(out);
    if let Some(Resume::Path(p)) = &mut config.checkpoint.resume {
        absolute(p, cwd);
    }
}

/// The model paths a pipeline stage's `set:` gives (`model.path`,
/// `model.tokenizer`, `model.adapter`, `model.config`), absolute against the pipeline file's
/// folder `base`, as in a config file; a Hub id stays an id.
pub(crate) fn stage_inputs(set: &mut BTreeMap<String, serde_yaml::Value>, base: &Path) {
    for (key, value) in set.iter_mut() {
        let serde_yaml::Value::String(text) = value else {
            continue;
        };
        let hub_id = key != "model.config" && repo_id::hub_id(Path::new(text.as_str())).is_some();
        let input = [
            "model.path",
            "model.tokenizer",
            "model.adapter",
            "model.config",
        ]
        .contains(&key.as_str());
        if input && (!hub_id || base.join(&*text).exists()) {
            let mut p = PathBuf::from(&*text);
            absolute(&mut p, base);
            *text = p.display().to_string();
        }
    }
}

fn absolute(path: &mut PathBuf, base: &Path) {
    if path.is_relative() {
        *path = path_clean::clean(base.join(&*path));
    }
}

/// The absolute folder of the config file `file`, and the current directory.
pub(crate) fn bases(file: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    let cwd = std::env::current_dir()?;
    let file = path_clean::clean(cwd.join(file));
    let folder = file.parent().map_or_else(|| cwd.clone(), Path::to_path_buf);
    Ok((folder, cwd))
}
