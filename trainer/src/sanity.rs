//! `train.sanity_steps`: a short run whose green/red table tells whether a
//! long, expensive run is worth starting.

use std::fmt::Write;

/// What the loop saw during the sanity steps.
#[derive(Default)]
pub struct Observed {
    pub losses: Vec<f64>,
    pub grad_norms: Vec<f64>,
    pub eval_losses: Vec<f64>,
    pub tokens_per_s: f64,
    pub peak_memory_bytes: u64,
    pub memory_limit_bytes: u64,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The table and whether every row is green.
pub fn table(o: &Observed, max_grad_norm: f64) -> (String, bool) {
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
        ),
        ("no NaN/Inf", finite, format!("{} steps", o.losses.len())),
        (
            "grad norm in range",
            finite && worst_norm < norm_limit,
            format!("max {worst_norm:.3} (limit {norm_limit})"),
        ),
        (
            "throughput",
            o.tokens_per_s > 0.0,
            format!("{:.0} tokens/s", o.tokens_per_s),
        ),
        (
            "memory",
            o.memory_limit_bytes == 0 || o.peak_memory_bytes < o.memory_limit_bytes * 9 / 10,
            format!(
                "peak {:.1} MiB of {:.1} MiB",
                o.peak_memory_bytes as f64 / 1048576.0,
                o.memory_limit_bytes as f64 / 1048576.0
            ),
        ),
    ];
    if o.eval_losses.len() >= 2 {
        let (a, b) = (o.eval_losses[0], *o.eval_losses.last().unwrap());
        rows.push(("eval loss decreasing", b < a, format!("{a:.4} -> {b:.4}")));
    }
    let mut s = String::from("\nsanity check\n");
    for (name, ok, detail) in &rows {
        let _ = writeln!(
            s,
            "  {:<6} {name:<22} {detail}",
            if *ok { "GREEN" } else { "RED" }
        );
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
