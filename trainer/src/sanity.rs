//! `train.sanity_steps`: a short run whose green/red table tells whether a
//! long, expensive run is worth starting. Each red row says what to do.

use std::fmt::Write;

/// What the loop saw during the sanity steps.
#[derive(Default)]
pub struct Observed {
    pub losses: Vec<f64>,
    pub grad_norms: Vec<f64>,
    pub eval_losses: Vec<f64>,
    pub tokens_per_s: f64,
    /// Peak memory of this rank on its device (GPU, else host RSS).
    pub peak_memory_bytes: u64,
    /// What that device holds (GPU memory, else host RAM); 0 if unknown.
    pub memory_limit_bytes: u64,
}

/// What the table demands beyond the observations.
pub struct Floors {
    /// Largest gradient clipping norm of the run (`train.max_grad_norm`).
    pub max_grad_norm: f64,
    /// Tokens/s below which the run is too slow; None: any progress passes.
    pub min_tokens_per_s: Option<f64>,
}

/// Share of the device's memory above which the memory row is red.
const MEMORY_SHARE: f64 = 0.95;

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// One row: name, green, what was seen, what to do when red.
type Row = (&'static str, bool, String, &'static str);

fn loss_rows(o: &Observed, max_grad_norm: f64) -> Vec<Row> {
    let quarter = (o.losses.len() / 4).max(1);
    let (first, last) = (
        mean(&o.losses[..quarter.min(o.losses.len())]),
        mean(&o.losses[o.losses.len().saturating_sub(quarter)..]),
    );
    let finite = o.losses.iter().chain(&o.grad_norms).all(|x| x.is_finite());
    let worst_norm = o.grad_norms.iter().copied().fold(0.0, f64::max);
    let norm_limit = 100.0 * max_grad_norm.max(1.0);
    let mut rows = vec![
        (
            "loss decreasing",
            last < first,
            format!("mean of first quarter {first:.4} -> last quarter {last:.4}"),
            "lower train.learning_rate or run more train.sanity_steps; check the data",
        ),
        (
            "no NaN/Inf",
            finite,
            format!("{} steps", o.losses.len()),
            "lower train.learning_rate, keep train.max_grad_norm set, check the data",
        ),
        (
            "grad norm in range",
            finite && worst_norm < norm_limit,
            format!("max {worst_norm:.3} (limit {norm_limit})"),
            "lower train.learning_rate or add lr_schedule warmup",
        ),
    ];
    if o.eval_losses.len() >= 2 {
        let (a, b) = (o.eval_losses[0], *o.eval_losses.last().unwrap());
        rows.push((
            "eval loss decreasing",
            b < a,
            format!("{a:.4} -> {b:.4}"),
            "the model does not generalise: check the validation split and the learning rate",
        ));
    }
    rows
}

fn device_rows(o: &Observed, floor: Option<f64>) -> Vec<Row> {
    let mib = |b: u64| b as f64 / 1048576.0;
    let share = o.peak_memory_bytes as f64 / o.memory_limit_bytes.max(1) as f64;
    vec![
        (
            "throughput",
            o.tokens_per_s >= floor.unwrap_or(f64::MIN_POSITIVE),
            match floor {
                Some(f) => format!("{:.0} tokens/s (floor {f:.0})", o.tokens_per_s),
                None => format!("{:.0} tokens/s (no floor known)", o.tokens_per_s),
            },
            "too slow: raise train.micro_batch_size, use a GPU or more ranks, or lower train.sanity.min_tokens_per_s",
        ),
        (
            "memory",
            o.memory_limit_bytes == 0 || share <= MEMORY_SHARE,
            format!(
                "peak {:.1} MiB of {:.1} MiB ({:.0}%)",
                mib(o.peak_memory_bytes),
                mib(o.memory_limit_bytes),
                100.0 * share
            ),
            "too close to the limit: lower train.micro_batch_size or data.max_seq_length, use more ranks or optimizer.bits: 8",
        ),
    ]
}

/// The table and whether every row is green.
pub fn table(o: &Observed, floors: &Floors) -> (String, bool) {
    let mut rows = loss_rows(o, floors.max_grad_norm);
    rows.extend(device_rows(o, floors.min_tokens_per_s));
    let mut s = String::from("\nsanity check\n");
    for (name, ok, detail, fix) in &rows {
        let light = if *ok { "GREEN" } else { "RED" };
        let _ = writeln!(s, "  {light:<6} {name:<22} {detail}");
        if !ok {
            let _ = writeln!(s, "         {:<22} -> {fix}", "");
        }
    }
    let all = rows.iter().all(|r| r.1);
    let _ = writeln!(
        s,
        "  => {}",
        if all {
            "GREEN: ready for the full run"
        } else {
            "RED: fix the red rows before a long run"
        }
    );
    (s, all)
}

/// Total memory of this machine (Linux), 0 if unknown.
pub fn system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests;
