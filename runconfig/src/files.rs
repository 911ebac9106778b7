//! What a run needs beyond well-formed values: a model, data, a length, and
//! the files the config names (an adapter's weights checked against the
//! model's shapes). `launch` (and `launch check`) refuses a config
//! that fails here before it starts anything; the trainer runs the same
//! checks on the config it is handed.

use crate::contracts::checkpoint::COMPLETE;
use crate::memory::fit::check_plan_size;
use crate::memory::{ModelShape, Setup};
use crate::schema::{Config, ModelSource, Resume, TemplateSource};
use std::path::Path;

/// The message for a `data.chat_template` file that is not there: a word
/// without an extension close to a named template is taken for a typo.
fn missing_template(p: &Path) -> String {
    let word = p.file_name().map(|n| n.to_string_lossy().to_string());
    let names: Vec<String> = crate::NAMED_TEMPLATES
        .iter()
        .map(|n| n.to_string())
        .collect();
    let guess = word
        .filter(|w| !w.contains('.'))
        .and_then(|w| crate::error::closest(&w, &names));
    match guess {
        Some(name) => format!(
            "`data.chat_template`: {} is not a file; did you mean `{name}`?",
            p.display()
        ),
        None => format!(
            "`data.chat_template`: {} is not a file (expected {})",
            p.display(),
            crate::template::template_choices()
        ),
    }
}

/// Every check of this module; the message names the key and the path.
pub(crate) fn check(c: &Config) -> Result<(), String> {
    let source = c.model.source()?;
    c.train.planned_steps(1)?;
    if c.data.datasets.is_empty() {
        return Err(
            "`data.datasets` is empty: list at least one dataset (path: ... or hub: ...)".into(),
        );
    }
    if c.model.hub_path().is_none() {
        model(source)?;
        model_shape(c)?;
    }
    if c.model.hub_tokenizer().is_none() {
        tokenizer(c.model.tokenizer.as_deref())?;
    }
    if let Some(dir) = c.model.adapter.as_deref() {
        if c.model.hub_adapter().is_none() {
            crate::adapter::check_folder(dir)?;
            if c.model.hub_path().is_none() {
                crate::adapter::check_fits(c, dir)?;
            }
        }
    }
    for (i, d) in c.data.datasets.iter().enumerate() {
        let paths = d.path.iter().map(|p| ("path", p));
        for (key, p) in paths.chain(d.files.iter().map(|p| ("files", p))) {
            if !p.exists() {
                return Err(format!(
                    "`data.datasets[{i}].{key}`: {} does not exist",
                    p.display()
                ));
            }
        }
    }
    if let Some(TemplateSource::File(p)) = &c.data.chat_template {
        if !p.is_file() {
            return Err(missing_template(p));
        }
    }
    resume(&c.checkpoint.resume())
}

fn model(source: ModelSource) -> Result<(), String> {
    match source {
        ModelSource::Weights(dir) => {
            let what = "a Hugging Face model folder: config.json, *.safetensors, tokenizer files";
            if !dir.is_dir() {
                return Err(format!("`model.path`: {} {} ({what})", dir.display(), absent(dir)));
            }
            if !dir.join("config.json").is_file() {
                return Err(format!("`model.path`: {} has no config.json ({what})", dir.display()));
            }
            if !holds_safetensors(dir) {
                return Err(format!(
                    "`model.path`: {} holds no *.safetensors weights ({what}; for random init use model.config)",
                    dir.display()
                ));
            }
            Ok(())
        }
        ModelSource::RandomInit(file) if !file.is_file() => Err(format!(
            "`model.config`: {} {} (expected a config.json file; for a model folder use model.path)",
            file.display(),
            absent(file)
        )),
        ModelSource::RandomInit(_) => Ok(()),
    }
}

/// The model's config.json describes a model that can be planned: sane
/// sizes (see [`ModelShape::from_json`]) and a memory plan within u64.
fn model_shape(c: &Config) -> Result<(), String> {
    let shape = ModelShape::of(c)?;
    let micro_batch = c.train.micro_batch_size;
    check_plan_size(&shape, &Setup::of(c, 1, micro_batch))
}

fn tokenizer(path: Option<&Path>) -> Result<(), String> {
    let Some(path) = path else {
        return Ok(());
    };
    let json = match path.is_dir() {
        true => path.join("tokenizer.json"),
        false => path.to_path_buf(),
    };
    match json.is_file() {
        true => Ok(()),
        false => Err(format!(
            "`model.tokenizer`: no tokenizer at {} (expected a folder holding tokenizer.json, or a tokenizer.json file)",
            json.display()
        )),
    }
}

fn resume(resume: &Resume) -> Result<(), String> {
    let Resume::Path(p) = resume else {
        return Ok(());
    };
    if !p.is_dir() {
        return Err(format!(
            "`checkpoint.resume`: {} {} (expected auto, never or a checkpoint folder)",
            p.display(),
            absent(p)
        ));
    }
    if !p.join(COMPLETE).is_file() {
        return Err(format!(
            "`checkpoint.resume`: {} is not a complete checkpoint (no {COMPLETE} file)",
            p.display()
        ));
    }
    Ok(())
}

/// "does not exist", or what is there instead.
pub(crate) fn absent(path: &Path) -> &'static str {
    match std::fs::metadata(path) {
        Err(_) => "does not exist",
        Ok(m) if m.is_dir() => "is a folder",
        Ok(_) => "is a file, not a folder",
    }
}

fn holds_safetensors(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "safetensors"))
}
