//! A run that starts from a PEFT LoRA adapter (`model.adapter`), as
//! `PeftModel.from_pretrained(base, adapter, is_trainable=True)` does: the
//! run is a LoRA run whose adapters are the adapter's, so its `lora:`
//! settings come from the adapter's adapter_config.json. A `lora:` section
//! beside it may set what does not change the adapters' meaning (dropout,
//! `base: nf4`, `init`, which is unused); the keys it writes among r,
//! alpha, target_modules, use_rslora and modules_to_save must agree with
//! the adapter, and those it leaves out are the adapter's.

mod tensors;

pub use tensors::check_fits;

use crate::model::{read_json, Lora};
use crate::schema::{Config, LoraBase, LoraConfig, LoraInit};
use std::path::Path;

/// PEFT's adapter settings file.
pub const ADAPTER_CONFIG: &str = "adapter_config.json";
/// PEFT's adapter weights file.
pub const ADAPTER_FILE: &str = "adapter_model.safetensors";
/// The prefix PEFT gives the model's own parameter names in the weights file.
pub const PEFT_PREFIX: &str = "base_model.model.";

/// The `lora:` keys that give the adapters their meaning: a start from an
/// adapter takes them from it, and a `lora:` section may only repeat them.
const AGREED: [&str; 5] = [
    "r",
    "alpha",
    "target_modules",
    "use_rslora",
    "modules_to_save",
];

/// What a PEFT adapter folder's adapter_config.json describes, as a
/// `lora:` section would say it (new adapters' `init` and `base: compute`
/// besides). Layer coverage of full module paths is checked with the
/// model ([`check_fits`]).
pub fn settings(dir: &Path) -> Result<LoraConfig, String> {
    let file = dir.join(ADAPTER_CONFIG);
    let origin = file.display().to_string();
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("`model.adapter`: cannot read {origin}: {e}"))?;
    let json = read_json(&text).map_err(|e| format!("`model.adapter`: {origin}: {e}"))?;
    let (lora, _) = Lora::from_adapter_config(&json, 0, &origin)
        .map_err(|e| format!("`model.adapter`: {e}"))?;
    Ok(section_of(&lora))
}

/// The `lora:` section that gives `lora`.
fn section_of(lora: &Lora) -> LoraConfig {
    let names = |v: Vec<&str>| v.into_iter().map(String::from).collect();
    LoraConfig {
        r: lora.shape.r as i64,
        alpha: lora.alpha,
        dropout: lora.dropout,
        target_modules: names(lora.shape.targets().collect()),
        use_rslora: lora.rslora,
        init: LoraInit::default(),
        modules_to_save: names(lora.shape.saved_modules()),
        base: LoraBase::default(),
    }
}

/// The run's `lora:` for adapters that `adapter` describes (`origin` names
/// them): the adapter's settings where the section is absent or leaves a
/// key out; a key of [`AGREED`] that `written` (the `lora.*` keys the
/// config file and its overrides set) holds must agree, and dropout as
/// written stays.
pub(crate) fn settle(
    config: &mut Config,
    adapter: &LoraConfig,
    written: &[String],
    origin: &str,
) -> Result<(), String> {
    let Some(section) = config.lora.as_mut() else {
        config.lora = Some(adapter.clone());
        return Ok(());
    };
    let given = |key: &str| written.iter().any(|w| *w == format!("lora.{key}"));
    let (mine, theirs) = (section.lora()?, adapter.lora()?);
    agree(
        &mine,
        &theirs,
        AGREED.into_iter().filter(|k| given(k)),
        origin,
    )?;
    if !given("dropout") {
        section.dropout = adapter.dropout;
    }
    section.r = adapter.r;
    section.alpha = adapter.alpha;
    section.target_modules.clone_from(&adapter.target_modules);
    section.use_rslora = adapter.use_rslora;
    section.modules_to_save.clone_from(&adapter.modules_to_save);
    Ok(())
}

/// Whether the run's adapters (`run`) are those of the adapter at
/// `origin`: the same r, alpha, targets, scaling and modules_to_save; the
/// refusal names the first key that differs and both values.
pub fn agrees(run: &Lora, adapter: &Lora, origin: &str) -> Result<(), String> {
    agree(run, adapter, AGREED.into_iter(), origin)
}

fn agree<'a>(
    mine: &Lora,
    theirs: &Lora,
    keys: impl Iterator<Item = &'a str>,
    origin: &str,
) -> Result<(), String> {
    for key in keys {
        let same = match key {
            "r" => mine.shape.r == theirs.shape.r,
            "alpha" => mine.alpha == theirs.alpha,
            "target_modules" => mine.shape.targets == theirs.shape.targets,
            "use_rslora" => mine.rslora == theirs.rslora,
            _ => mine.shape.saved == theirs.shape.saved,
        };
        if !same {
            return Err(format!(
                "`lora.{key}` is {} but the adapter at {origin} has {key} {}; \
                 a run from an adapter keeps its settings: drop `lora.{key}` or make them agree",
                shown(mine, key),
                shown(theirs, key)
            ));
        }
    }
    Ok(())
}

/// The value of the `lora.` key `key` of `lora`, in words.
fn shown(lora: &Lora, key: &str) -> String {
    let list = |v: Vec<&str>| format!("[{}]", v.join(", "));
    match key {
        "r" => lora.shape.r.to_string(),
        "alpha" => lora.alpha.to_string(),
        "target_modules" => list(lora.shape.targets().collect()),
        "use_rslora" => lora.rslora.to_string(),
        _ => list(lora.shape.saved_modules()),
    }
}

impl crate::Resolved {
    /// With `model.adapter` a local folder holding adapter_config.json:
    /// the run's `lora:` settled against it (see [`settings`]). An adapter
    /// not there yet (a Hub id, the `final/` of a pipeline stage still to
    /// run) is left for later; [`crate::check_run`] names a missing one.
    pub fn settle_adapter(&mut self) -> Result<(), String> {
        let model = &self.config.model;
        let Some(dir) = model
            .adapter
            .clone()
            .filter(|_| model.hub_adapter().is_none())
        else {
            return Ok(());
        };
        if !dir.join(ADAPTER_CONFIG).is_file() {
            return Ok(());
        }
        let adapter = settings(&dir)?;
        self.start_from(&adapter, &dir.display().to_string())
    }

    /// The run's `lora:` settled against adapters that `adapter` describes
    /// (`origin` names them): those of an adapter folder, or those an
    /// earlier pipeline stage will write.
    pub fn start_from(&mut self, adapter: &LoraConfig, origin: &str) -> Result<(), String> {
        settle(&mut self.config, adapter, &self.lora_keys, origin)
    }
}

/// What `check_run` asks of a local `model.adapter`: a folder with
/// PEFT's two files.
pub(crate) fn check_folder(dir: &Path) -> Result<(), String> {
    let what = format!("a PEFT adapter folder: {ADAPTER_CONFIG}, {ADAPTER_FILE}");
    if !dir.is_dir() {
        return Err(format!(
            "`model.adapter`: {} {} ({what})",
            dir.display(),
            crate::files::absent(dir)
        ));
    }
    for file in [ADAPTER_CONFIG, ADAPTER_FILE] {
        if !dir.join(file).is_file() {
            return Err(format!(
                "`model.adapter`: {} has no {file} ({what})",
                dir.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
