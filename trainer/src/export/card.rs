//! The README.md model card of an export: where the model came from, what it
//! was trained on, how, and how it ended.

use runconfig::Config;
use std::fmt::Write;

/// How training ended, for the card.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub step: u64,
    pub train_loss: Option<f64>,
    pub total_tokens: i64,
    pub world_size: usize,
}

/// The model card text.
pub fn model_card(config: &Config, summary: &Summary, dtype: &str) -> String {
    let mut s = String::new();
    write_origin(&mut s, config, summary);
    let _ = writeln!(s, "\n## Hyperparameters\n");
    let _ = writeln!(s, "| key | value |\n| --- | --- |");
    for (k, v) in hyperparameters(config) {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    write_results(&mut s, summary, dtype);
    s
}

/// The front matter, the title, and where the model and its data came from.
fn write_origin(s: &mut String, config: &Config, summary: &Summary) {
    let base = match (&config.model.path, &config.model.config) {
        (Some(p), _) => format!("`{}`", p.display()),
        (None, Some(c)) => format!("none (random initialisation from `{}`)", c.display()),
        (None, None) => "unknown".into(),
    };
    let _ = writeln!(
        s,
        "---\nlibrary_name: transformers\ntags:\n- ferrospeed\n---\n"
    );
    let _ = writeln!(s, "# {}\n", config.run_name);
    let _ = writeln!(
        s,
        "Trained with Ferrospeed (ZeRO-3, {} rank(s)).\n",
        summary.world_size
    );
    let _ = writeln!(s, "- Base model: {base}");
    let _ = writeln!(s, "- Objective: {:?}", config.data.objective);
    let _ = writeln!(s, "- Data:");
    for d in &config.data.datasets {
        let _ = writeln!(
            s,
            "  - `{}`{}",
            d.path.display(),
            d.mix_ratio
                .map_or(String::new(), |r| format!(" (mix_ratio {r})"))
        );
    }
}

/// The rows of the hyperparameter table: `(key, value)`.
fn hyperparameters(config: &Config) -> [(&'static str, String); 10] {
    let t = &config.train;
    [
        ("learning_rate", t.learning_rate.to_string()),
        (
            "lr_schedule",
            format!(
                "{:?}, warmup_ratio {}, warmup_steps {:?}, min_lr_ratio {}",
                t.lr_schedule.kind,
                t.lr_schedule.warmup_ratio,
                t.lr_schedule.warmup_steps,
                t.lr_schedule.min_lr_ratio
            ),
        ),
        (
            "effective_batch_size",
            t.effective_batch_size
                .map_or("micro x world".into(), |b| b.to_string()),
        ),
        ("micro_batch_size", t.micro_batch_size.to_string()),
        ("max_seq_length", config.data.max_seq_length.to_string()),
        (
            "epochs / max_steps",
            format!("{:?} / {:?}", t.epochs, t.max_steps),
        ),
        (
            "optimizer",
            format!(
                "AdamW, {}-bit state, weight_decay {}, betas {:?}, eps {}",
                config.optimizer.bits,
                config.optimizer.weight_decay,
                config.optimizer.betas,
                config.optimizer.eps
            ),
        ),
        ("max_grad_norm", t.max_grad_norm.to_string()),
        ("compute dtype", format!("{:?}", config.model.dtype)),
        ("seed", t.seed.to_string()),
    ]
}

/// How training ended.
fn write_results(s: &mut String, summary: &Summary, dtype: &str) {
    let _ = writeln!(s, "\n## Results\n");
    let _ = writeln!(s, "- Optimizer steps: {}", summary.step);
    let _ = writeln!(s, "- Tokens seen: {}", summary.total_tokens);
    if let Some(l) = summary.train_loss {
        let _ = writeln!(s, "- Final train loss: {l:.4}");
    }
    let _ = writeln!(s, "- Weights stored as {dtype}");
}
