//! The YAML front matter of the card, the metadata the Hugging Face Hub
//! reads: base model, license, library, tags, pipeline and datasets.

use super::origin::Origin;
use runconfig::{Config, Objective};
use serde::Serialize;

/// The front matter, in the order it is written.
#[derive(Serialize)]
struct Header<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    base_model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_link: Option<&'a str>,
    library_name: &'static str,
    tags: Vec<&'static str>,
    pipeline_tag: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    datasets: Vec<String>,
}

/// The objective as a tag and in prose: `sft`, `dpo`, `pretraining`.
pub fn objective_tag(objective: Objective) -> &'static str {
    match objective {
        Objective::Pretrain => "pretraining",
        Objective::Sft => "sft",
        Objective::Dpo => "dpo",
    }
}

/// The Hub ids of the run's datasets (entries with `hub:`).
fn hub_datasets(config: &Config) -> Vec<String> {
    config.data.hub_ids()
}

/// Whether the export is a PEFT adapter: a LoRA run without `export.merge`.
pub fn is_adapter(config: &Config) -> bool {
    config.lora.is_some() && !config.export.merge
}

/// The front matter block, `---` lines included.
pub fn front_matter(config: &Config, origin: &Origin) -> String {
    let header = Header {
        base_model: origin.base_model.as_deref(),
        license: origin.license.as_deref(),
        license_name: origin.license_name.as_deref(),
        license_link: origin.license_link.as_deref(),
        library_name: match is_adapter(config) {
            true => "peft",
            false => "transformers",
        },
        tags: match config.lora.is_some() {
            true => vec!["ferrospeed", objective_tag(config.data.objective), "lora"],
            false => vec!["ferrospeed", objective_tag(config.data.objective)],
        },
        pipeline_tag: "text-generation",
        datasets: hub_datasets(config),
    };
    let yaml = serde_yaml::to_string(&header).expect("the card header serializes");
    format!("---\n{yaml}---\n")
}
