//! The final weights in Hugging Face layout: `config.json`,
//! `model.safetensors` or `model-0000k-of-0000n.safetensors` with
//! `model.safetensors.index.json`, the tokenizer and generation files when
//! the model has them, and a README.md model card. Units are gathered one at
//! a time and streamed to disk by rank 0, into a temporary folder that is
//! swapped into place once complete (see [`place`]).

mod card;
mod lora;
pub mod place;
mod side_files;
mod source;
mod writer;

use card::{chain, CHAIN_KEY};
pub use card::{model_card, Summary};
pub use lora::{merge, AdapterWeights, MergedWeights};
pub use source::UnitWeights;

use anyhow::{Context, Result};
use place::Staging;
use runconfig::model::{Family, Lora};
use runconfig::{Config, ExportDtype, ModelSource};
use serde_json::json;
use std::path::{Path, PathBuf};
use tch::Kind;
use writer::{Entry, Plan, Writer};

/// The export dtype: `export.dtype` (bf16 | f32 | compute), bf16 by
/// default (f32 for LoRA adapters, as PEFT saves them).
pub fn export_kind(config: &Config, adapter: bool) -> Kind {
    let default = match adapter {
        true => ExportDtype::F32,
        false => ExportDtype::Bf16,
    };
    match config.export.dtype.unwrap_or(default) {
        ExportDtype::Bf16 => Kind::BFloat16,
        ExportDtype::F32 => Kind::Float,
        ExportDtype::Compute => crate::model::compute_kind(config.model.dtype),
    }
}

/// What an export folder holds.
enum Layout {
    /// A Hugging Face model: config.json and the weights.
    Model,
    /// A PEFT adapter: adapter_config.json and adapter_model.safetensors.
    Adapter(Lora),
}

/// Where the model's config.json and side files are.
pub struct ModelFiles {
    pub config_json: PathBuf,
    pub folders: Vec<PathBuf>,
}

impl ModelFiles {
    /// From the run configuration.
    pub fn of(config: &Config) -> Result<ModelFiles> {
        let mut folders: Vec<PathBuf> = config
            .model
            .tokenizer
            .iter()
            .map(|t| {
                if t.is_dir() {
                    t.clone()
                } else {
                    t.parent().unwrap_or(Path::new(".")).to_path_buf()
                }
            })
            .collect();
        let config_json = match config.model.source().map_err(anyhow::Error::msg)? {
            ModelSource::Weights(d) => {
                folders.push(d.to_path_buf());
                d.join("config.json")
            }
            ModelSource::RandomInit(f) => f.to_path_buf(),
        };
        Ok(ModelFiles {
            config_json,
            folders,
        })
    }
}

fn dtype_words(kind: Kind) -> &'static str {
    if kind == Kind::Float {
        "float32"
    } else {
        "bfloat16"
    }
}

/// Takes every unit's fp32 weights from `weights` (gathered from every
/// rank, or read from a checkpoint); rank 0 writes the export to `dir`,
/// replacing an earlier export there but never another folder (the error
/// then ends with `hint`, what the user can do). A LoRA run writes its
/// adapters in PEFT's layout, or with `export.merge` the merged model.
pub fn write_final(
    weights: &mut dyn UnitWeights,
    config: &Config,
    files: &ModelFiles,
    dir: &Path,
    summary: &Summary,
    hint: &str,
) -> Result<()> {
    let lora = config.lora.as_ref().map(|l| l.lora());
    match lora.transpose().map_err(anyhow::Error::msg)? {
        None => write(weights, Layout::Model, config, files, (dir, hint), summary),
        Some(lora) if config.export.merge => {
            let mut merged = MergedWeights {
                inner: weights,
                lora,
            };
            write(
                &mut merged,
                Layout::Model,
                config,
                files,
                (dir, hint),
                summary,
            )
        }
        Some(lora) => {
            let mut adapters = AdapterWeights { inner: weights };
            let layout = Layout::Adapter(lora);
            write(&mut adapters, layout, config, files, (dir, hint), summary)
        }
    }
}

/// [`write_final`] of `weights` as `layout` says.
fn write(
    weights: &mut dyn UnitWeights,
    layout: Layout,
    config: &Config,
    files: &ModelFiles,
    (dir, hint): (&Path, &str),
    summary: &Summary,
) -> Result<()> {
    let adapter = matches!(layout, Layout::Adapter(_));
    let kind = export_kind(config, adapter);
    let (max, stem) = match adapter {
        true => (u64::MAX, "adapter_model"),
        false => (config.export.max_shard_bytes(), "model"),
    };
    let rank = weights.rank();
    let entries = weights
        .parameters()
        .into_iter()
        .map(|(name, shape)| Entry { name, shape })
        .collect();
    let mut out = None;
    if rank == 0 {
        let staging = Staging::new(dir, hint)?;
        let writer = Writer::new(Plan::new(entries, kind, max, stem)?, staging.dir());
        out = Some((staging, writer));
    }
    for u in 0..weights.units() {
        let params = weights
            .gather_unit(u)
            .with_context(|| format!("gathering unit {u} for export"))?;
        if let Some((_, w)) = out.as_mut() {
            for (name, t) in params {
                w.put(&name, &t.to_kind(kind).contiguous())?;
            }
        }
    }
    if let Some((staging, w)) = out {
        let index = w.finish()?;
        let card = model_card(config, summary, dtype_words(kind));
        let at = staging.dir();
        match &layout {
            Layout::Model => side_files(at, config, index, files, kind, card)?,
            Layout::Adapter(lora) => adapter_files(at, config, lora, files, card)?,
        }
        let mut about = serde_json::Map::new();
        about.insert("run_name".into(), config.run_name.clone().into());
        about.insert("step".into(), summary.step.into());
        about.insert("dtype".into(), dtype_words(kind).into());
        about.insert(CHAIN_KEY.into(), chain(config, summary).into());
        let shown = staging.out().display().to_string();
        staging.commit(about)?;
        println!("final weights written to {shown}");
    }
    weights.barrier()?;
    Ok(())
}

/// Writes a PEFT adapter folder's files besides the weights:
/// adapter_config.json (naming the base by its Hub id, else its folder),
/// the tokenizer and generation files, the chat template, the card.
fn adapter_files(
    dir: &Path,
    config: &Config,
    lora: &Lora,
    files: &ModelFiles,
    card: String,
) -> Result<()> {
    let origin = card::Origin::of(config);
    let folder = files.config_json.parent().unwrap_or(Path::new("."));
    let base = origin
        .base_model
        .unwrap_or_else(|| folder.display().to_string());
    let json = serde_json::to_string_pretty(&lora.adapter_config(&base))?;
    let path = dir.join(crate::model::ADAPTER_CONFIG);
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    side_files::copy(&files.folders, dir)?;
    side_files::write_template(config, dir)?;
    let readme = dir.join("README.md");
    std::fs::write(&readme, card).with_context(|| format!("writing {}", readme.display()))
}

/// Writes everything but the weights into `dir`: the index, config.json
/// (with the export dtype), the tokenizer and generation files, the run's
/// chat template, the card.
fn side_files(
    dir: &Path,
    config: &Config,
    index: Option<serde_json::Value>,
    files: &ModelFiles,
    kind: Kind,
    card: String,
) -> Result<()> {
    let put = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    if let Some(index) = index {
        put(
            "model.safetensors.index.json",
            serde_json::to_string_pretty(&index)?.as_bytes(),
        )?;
    }
    let text = std::fs::read_to_string(&files.config_json)
        .with_context(|| format!("reading {}", files.config_json.display()))?;
    let mut json = runconfig::model::read_json(&text)
        .with_context(|| format!("{} is not JSON", files.config_json.display()))?;
    if let Some(m) = json.as_object_mut() {
        m.insert("torch_dtype".into(), dtype_words(kind).into());
        m.insert("dtype".into(), dtype_words(kind).into());
        // transformers picks the class from `architectures`: name the
        // family's when the source did not (a bare config.json).
        let model_type = m.get("model_type").and_then(|t| t.as_str());
        if let (false, Ok(family)) = (m.contains_key("architectures"), Family::of(model_type)) {
            m.insert("architectures".into(), json!([family.architecture()]));
        }
    }
    put(
        "config.json",
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    side_files::copy(&files.folders, dir)?;
    side_files::write_template(config, dir)?;
    put("README.md", card.as_bytes())?;
    Ok(())
}
