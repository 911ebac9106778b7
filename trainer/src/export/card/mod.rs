//! The README.md model card of an export: the Hub's YAML front matter
//! ([`header`]), then what the model is and where it came from
//! ([`origin`]), the hyperparameters ([`table`]), how training ended and how
//! to load it.

mod chain;
mod header;
mod origin;
mod table;

pub(crate) use origin::Origin;

use runconfig::{Config, Objective};
use std::fmt::Write;
use table::number;

/// How training ended, for the card.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub step: u64,
    /// The last step's loss.
    pub train_loss: Option<f64>,
    /// The last evaluation's loss.
    pub eval_loss: Option<f64>,
    /// DPO: the last step's `rewards/*` and the last evaluation's
    /// `eval_rewards/*`, by their metrics.jsonl names.
    pub rewards: Vec<(String, f64)>,
    pub total_tokens: i64,
    pub world_size: usize,
}

/// The model card text; `dtype` is the weights' (`bfloat16`, `float32`).
pub fn model_card(config: &Config, summary: &Summary, dtype: &str) -> String {
    let origin = Origin::of(config);
    let stages = chain(config, summary);
    let mut s = header::front_matter(config, &origin);
    let _ = writeln!(s, "\n# {}\n", config.run_name);
    let _ = writeln!(s, "{}\n", description(config, &origin, summary));
    write_data(&mut s, config);
    if stages.len() > 1 || origin.ferrospeed_export {
        chain::write(&mut s, origin.base_model.as_deref(), &stages);
    }
    let _ = writeln!(s, "\n## Hyperparameters\n");
    write_table(
        &mut s,
        "setting",
        table::hyperparameters(config, summary, dtype),
    );
    let _ = writeln!(s, "\n## Results\n");
    write_table(&mut s, "metric", results(summary));
    write_usage(&mut s, config);
    s
}

/// The stages behind this run's model, this run last: what its export
/// records for the next run to continue.
pub fn chain(config: &Config, summary: &Summary) -> Vec<serde_json::Value> {
    let mut stages = chain::earlier(config);
    stages.push(chain::this(config, summary));
    stages
}

/// The marker key under which an export records [`chain`].
pub const CHAIN_KEY: &str = chain::KEY;

fn hub_link(id: &str) -> String {
    format!("[{id}](https://huggingface.co/{id})")
}

/// What the model is: the objective, and what it started from.
fn description(config: &Config, origin: &Origin, summary: &Summary) -> String {
    let what = match config.data.objective {
        Objective::Pretrain => "A causal language model pretrained (next-token prediction)",
        Objective::Sft => "A chat model trained by supervised fine-tuning (SFT)",
        Objective::Dpo => "A chat model trained by Direct Preference Optimisation (DPO)",
    };
    let folder = origin.folder.as_deref().unwrap_or("?");
    let from = match (&origin.base_model, origin.ferrospeed_export) {
        _ if origin.random_init => "initialised at random".to_string(),
        (Some(id), true) => format!(
            "from {} after the earlier stages listed under Training chain",
            hub_link(id)
        ),
        (Some(id), false) => format!("starting from {}", hub_link(id)),
        (None, true) => "continuing the earlier stages listed under Training chain".into(),
        (None, false) => format!("starting from the local folder `{folder}`"),
    };
    let ranks = match summary.world_size {
        1 => "1 rank".to_string(),
        n => format!("{n} ranks"),
    };
    format!("{what}, {from}. Trained with Ferrospeed (ZeRO-3 on {ranks}).")
}

/// The datasets of the mixture, by Hub id or by file or folder name.
fn write_data(s: &mut String, config: &Config) {
    if config.data.datasets.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Data\n");
    for d in &config.data.datasets {
        let name = match (&d.hub, &d.path) {
            (None, Some(p)) => p
                .file_name()
                .map_or_else(|| d.label(), |n| n.to_string_lossy().into_owned()),
            _ => d.label(),
        };
        let mut line = format!("- `{name}`");
        if let Some(r) = d.mix_ratio {
            line += &format!(", mix ratio {}", number(r));
        }
        if let Some(n) = d.max_samples {
            line += &format!(", at most {n} rows");
        }
        let _ = writeln!(s, "{line}");
    }
}

fn write_table(s: &mut String, what: &str, rows: Vec<(&str, String)>) {
    let _ = writeln!(s, "| {what} | value |\n| --- | --- |");
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
}

/// The rows of the results table.
fn results(summary: &Summary) -> Vec<(&str, String)> {
    let mut rows = vec![
        ("optimizer steps", summary.step.to_string()),
        ("tokens seen", summary.total_tokens.to_string()),
    ];
    if let Some(l) = summary.train_loss {
        rows.push(("train loss (last step)", format!("{l:.4}")));
    }
    if let Some(l) = summary.eval_loss {
        rows.push(("eval loss (last evaluation)", format!("{l:.4}")));
    }
    for (name, v) in &summary.rewards {
        let when = match name.starts_with("eval_") {
            true => "last evaluation",
            false => "last step",
        };
        rows.push((name.as_str(), format!("{v:.4} ({when})")));
    }
    rows
}

/// The id to load the model by: the Hub repository when its namespace is
/// known, else this folder.
fn model_id(config: &Config) -> String {
    config
        .hub
        .as_ref()
        .and_then(|h| runconfig::repo_id::resolve(&h.repo_id, h.namespace.as_deref()).ok())
        .filter(|id| id.namespace.is_some())
        .map_or("path/to/this/folder".into(), |id| id.to_string())
}

/// How to load the model with transformers.
fn write_usage(s: &mut String, config: &Config) {
    let prompt = match config.data.objective {
        Objective::Pretrain => "inputs = tokenizer(\"Once upon a time\", return_tensors=\"pt\").input_ids",
        Objective::Sft | Objective::Dpo => "messages = [{\"role\": \"user\", \"content\": \"Hello!\"}]\n\
             text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)\n\
             inputs = tokenizer(text, return_tensors=\"pt\", add_special_tokens=False).input_ids",
    };
    let _ = writeln!(s, "\n## Usage\n");
    // An adapter loads with its base, which peft finds in adapter_config.json.
    let (import, class) = match header::is_adapter(config) {
        true => (
            "from peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer",
            "AutoPeftModelForCausalLM",
        ),
        false => (
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "AutoModelForCausalLM",
        ),
    };
    let _ = writeln!(
        s,
        "```python\n{import}\n\n\
         model_id = \"{}\"\ntokenizer = AutoTokenizer.from_pretrained(model_id)\n\
         model = {class}.from_pretrained(model_id)\n\n\
         {prompt}\nout = model.generate(inputs, max_new_tokens=64)\n\
         print(tokenizer.decode(out[0][inputs.shape[1]:], skip_special_tokens=True))\n```",
        model_id(config)
    );
}
