//! The console lines of the records that are not a step's, in the style of
//! the step line: the start of a run
//! (`start  2 ranks  accumulation 2  effective batch 16  134.5M parameters  ...`),
//! an evaluation (`eval  loss 0.0834  step 10/24`) and the end of a run
//! (`end  24 steps in 1m12s  loss 0.0812  eval loss 0.0834  ...`). The
//! exact values stay in metrics.jsonl.

use crate::progress::{duration, rate, Progress};
use runconfig::Plan;
use serde_json::{Map, Value};

/// The line of any record rank 0 writes: a step's, the start's, an
/// evaluation's; anything else as `key=value` pairs.
pub fn line(r: &Map<String, Value>, progress: &Progress, plan: &Plan) -> String {
    if r.get("event").and_then(Value::as_str) == Some("start") {
        return start(r, plan);
    }
    if r.contains_key("eval_loss") {
        return eval(r, progress);
    }
    progress.console(r)
}

/// `start  2 ranks  accumulation 2  effective batch 16  134.5M parameters
/// 32-bit AdamW  24 steps  planned 2.07 GB per device` (and where it resumed).
pub fn start(r: &Map<String, Value>, plan: &Plan) -> String {
    let num = |k: &str| r.get(k).and_then(Value::as_f64);
    let mut s = format!(
        "start  {} rank{}  accumulation {}  effective batch {}",
        plan.world_size,
        if plan.world_size == 1 { "" } else { "s" },
        plan.grad_accum,
        plan.effective_batch_size
    );
    if let Some(p) = num("parameters") {
        s += &format!("  {} parameters", count(p));
    }
    if let (Some(t), Some(r)) = (num("trained_parameters"), num("lora_r")) {
        s += &format!(" ({} trained: LoRA r {r})", count(t));
    }
    if let Some(bits) = num("optimizer_bits") {
        s += &format!("  {bits}-bit AdamW");
    }
    if let Some(t) = num("total_steps") {
        s += &format!("  {t} steps");
    }
    if let Some(b) = num("planned_device_bytes") {
        s += &format!("  planned {} per device", bytes(b));
    }
    if let Some(b) = num("planned_host_bytes").filter(|b| *b >= 1e9) {
        s += &format!(" + {} host", bytes(b));
    }
    if let Some(step) = num("resumed_step") {
        s += &format!("  resumed at step {step}");
    }
    s
}

/// `eval  loss 0.0834  acc 0.75  step 10/24`.
pub fn eval(r: &Map<String, Value>, progress: &Progress) -> String {
    let num = |k: &str| r.get(k).and_then(Value::as_f64);
    let mut s = format!("eval  loss {:.4}", num("eval_loss").unwrap_or(f64::NAN));
    if let Some(a) = num("eval_rewards/accuracy") {
        s += &format!("  acc {a:.2}");
    }
    match num("step") {
        Some(step) => format!("{s}  step {step}/{}", progress.total()),
        None => s,
    }
}

/// What the end of a run shows (rank 0).
pub struct End {
    /// Steps in all, and how many this process ran.
    pub steps: u64,
    pub ran: u64,
    /// Seconds this process trained.
    pub seconds: f64,
    /// Tokens this process trained on.
    pub tokens: u64,
    pub train_loss: Option<f64>,
    pub eval_loss: Option<f64>,
}

/// `end  24 steps in 1m12s  loss 0.0812  eval loss 0.0834  1.2M tokens  17.0k tok/s`.
pub fn end(e: &End) -> String {
    let mut s = format!("end  {} steps", e.steps);
    if e.ran != e.steps {
        s += &format!(" ({} in this run)", e.ran);
    }
    s += &format!(" in {}", duration(e.seconds));
    if let Some(l) = e.train_loss {
        s += &format!("  loss {l:.4}");
    }
    if let Some(l) = e.eval_loss {
        s += &format!("  eval loss {l:.4}");
    }
    let per_s = e.tokens as f64 / e.seconds.max(1e-9);
    format!(
        "{s}  {} tokens  {}",
        count(e.tokens as f64),
        rate(per_s, "tok")
    )
}

/// `134.5M`, `125.2k`, `812`.
pub fn count(n: f64) -> String {
    match n {
        x if x >= 1e9 => format!("{:.1}B", x / 1e9),
        x if x >= 1e6 => format!("{:.1}M", x / 1e6),
        x if x >= 1e3 => format!("{:.1}k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

/// `2.07 GB`, `5.18 MB` (decimal, as `launch check` prints memory).
pub fn bytes(n: f64) -> String {
    match n {
        x if x >= 1e9 => format!("{:.2} GB", x / 1e9),
        x if x >= 1e6 => format!("{:.2} MB", x / 1e6),
        x => format!("{:.0} kB", x / 1e3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> Plan {
        Plan {
            world_size: 2,
            micro_batch_size: 4,
            grad_accum: 2,
            effective_batch_size: 16,
        }
    }

    #[test]
    fn the_start_record_reads_as_one_line_of_words() {
        let r = json!({"event": "start", "world_size": 2, "grad_accum": 2, "total_steps": 24,
            "parameters": 134515008, "model_state_bytes_per_rank": 1011712, "optimizer_bits": 8,
            "optimizer_bytes_per_param": 2.0, "planned_device_bytes": 2069143248u64,
            "planned_host_bytes": 8192, "recomputed_units": 3, "baseline_rss_bytes": 120848384});
        let p = Progress::new(0, 24);
        assert_eq!(
            line(r.as_object().unwrap(), &p, &plan()),
            "start  2 ranks  accumulation 2  effective batch 16  134.5M parameters  8-bit AdamW  24 steps  planned 2.07 GB per device"
        );
    }

    #[test]
    fn an_evaluation_reads_like_the_step_line() {
        let p = Progress::new(0, 24);
        let r = json!({"eval_loss": 0.08341, "step": 10});
        assert_eq!(
            line(r.as_object().unwrap(), &p, &plan()),
            "eval  loss 0.0834  step 10/24"
        );
        let r = json!({"eval_loss": 0.5, "eval_rewards/accuracy": 0.75, "step": 24});
        assert_eq!(
            line(r.as_object().unwrap(), &p, &plan()),
            "eval  loss 0.5000  acc 0.75  step 24/24"
        );
    }

    #[test]
    fn the_end_of_a_run_sums_it_up() {
        let e = End {
            steps: 24,
            ran: 24,
            seconds: 72.0,
            tokens: 1_228_800,
            train_loss: Some(0.0812),
            eval_loss: Some(0.08341),
        };
        assert_eq!(
            end(&e),
            "end  24 steps in 1m12s  loss 0.0812  eval loss 0.0834  1.2M tokens  17.1k tok/s"
        );
    }
}
