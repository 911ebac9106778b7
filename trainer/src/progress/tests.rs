use super::*;
use serde_json::json;

#[test]
fn the_bar_shows_step_share_and_loss() {
    let p = Progress::new(0, 40);
    let line = p.line(10, 1.5, 2500.0);
    assert!(
        line.starts_with("[######..................] step 10/40 (25%)  ETA "),
        "{line}"
    );
    assert!(line.ends_with("loss 1.5000  2.5k tok/s"), "{line}");
}

#[test]
fn a_step_record_reads_in_human_units_within_120_columns() {
    let p = Progress::new(0, 1462);
    let r = json!({"step": 50, "train_loss": 0.61594, "learning_rate": 0.0003, "grad_norm": 0.5012,
        "tokens_per_s": 12345.6, "rss_bytes": 154140672u64, "epoch": 0.03});
    let line = p.console(r.as_object().unwrap());
    assert!(
        line.starts_with(
            "loss 0.6159  lr 3.0e-4  grad 0.50  12.3k tok/s  mem 147 MiB  step 50/1462 (3%)  ETA "
        ),
        "{line}"
    );
    assert!(line.len() <= 120, "{} columns: {line}", line.len());
}

#[test]
fn durations_and_rates_read_as_people_write_them() {
    assert_eq!(duration(4.0 * 3600.0 + 31.0 * 60.0 + 5.0), "4h31m");
    assert_eq!(duration(185.0), "3m05s");
    assert_eq!(duration(12.4), "12s");
    assert_eq!(rate(3.25, "batches"), "3.2 batches/s");
    assert_eq!(rate(2.5e6, "tok"), "2.5M tok/s");
    let m = Meter::new("dpo reference log-probs:", 144, "batches");
    let line = m.line(0);
    assert!(
        line.starts_with("dpo reference log-probs: 0/144 batches  0.0 batches/s  ETA "),
        "{line}"
    );
}

#[test]
fn counted_work_prints_about_once_a_second_and_short_work_not_at_all() {
    let m = Meter::new("tokenising x:", 1000, "rows");
    let every = m.every_ms;
    // Within the first interval nothing, not even the last line.
    assert!(!m.due(10, every / 2));
    assert!(!m.due(1000, every / 2));
    // Then one line per interval, whichever thread ticks first.
    assert!(m.due(200, every));
    assert!(!m.due(201, every + every / 2));
    assert!(m.due(400, 2 * every + 1));
    assert!(!m.due(401, 2 * every + 2));
    // And the last line once the work is done.
    assert!(m.due(1000, 2 * every + 3));
}
