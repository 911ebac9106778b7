use super::*;
use crate::draw::number;
use crate::metrics::ema;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const RUN: &str = "{\"event\":\"start\",\"world_size\":1}\n\
{\"step\":1,\"train_loss\":2.0,\"learning_rate\":0.001,\"grad_norm\":1.5}\n\
{\"step\":1,\"eval_loss\":2.1}\n\
{\"step\":2,\"train_loss\":1.5,\"learning_rate\":0.002,\"grad_norm\":null}\n\
{\"step\":3,\"train_lo";

#[test]
fn records_become_series_and_an_unfinished_last_line_is_skipped() {
    let m = Metrics::parse(RUN);
    assert_eq!(m.points("train_loss"), vec![(1.0, 2.0), (2.0, 1.5)]);
    assert_eq!(m.points("eval_loss"), vec![(1.0, 2.1)]);
    assert_eq!(m.points("grad_norm"), vec![(1.0, 1.5)]);
    assert_eq!(m.skipped_lines, 0);
    assert!(m.points("world_size").is_empty());
}

#[test]
fn a_resumed_run_s_later_values_win_and_broken_lines_are_counted() {
    let m = Metrics::parse(
        "{\"step\":5,\"train_loss\":1.0}\n{\"ste\n{\"step\":5,\"train_loss\":0.5}\n",
    );
    assert_eq!(m.points("train_loss"), vec![(5.0, 0.5)]);
    assert_eq!(m.skipped_lines, 1);
}

#[test]
fn the_ema_follows_short_runs_exactly_and_smooths_long_ones() {
    let short: Vec<_> = (0..10).map(|i| (i as f64, (i % 2) as f64)).collect();
    assert_eq!(ema(&short), short);
    let long: Vec<_> = (0..400).map(|i| (i as f64, (i % 2) as f64)).collect();
    let smooth = ema(&long);
    assert_eq!(smooth[0], (0.0, 0.0));
    assert!(
        smooth[200..].iter().all(|p| (p.1 - 0.5).abs() < 0.1),
        "{:?}",
        &smooth[200..210]
    );
}

#[test]
fn axis_numbers_read_as_people_write_them() {
    assert_eq!(number(0.25), "0.25");
    assert_eq!(number(2.0), "2");
    assert_eq!(number(0.0003), "3.0e-4");
    assert_eq!(number(12345.0), "12.3k");
    assert_eq!(number(2.5e6), "2.5M");
}

#[test]
fn a_run_s_charts_are_marked_pngs_and_only_the_logged_ones() {
    let dir = scratch("draw");
    std::fs::write(dir.join("metrics.jsonl"), RUN).unwrap();
    let drawn = draw_run(&dir, &dir.join("plots"), "test").unwrap();
    let names: Vec<_> = drawn
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, ["loss.png", "learning_rate.png", "grad_norm.png"]);
    for f in &drawn.files {
        assert!(png_file::is_ours(f), "{}", f.display());
    }
    // Redrawing replaces the charts it wrote.
    draw_run(&dir, &dir.join("plots"), "test").unwrap();
}

#[test]
fn a_file_it_did_not_write_is_never_replaced() {
    let dir = scratch("foreign");
    std::fs::write(dir.join("metrics.jsonl"), RUN).unwrap();
    std::fs::create_dir_all(dir.join("plots")).unwrap();
    std::fs::write(dir.join("plots/loss.png"), b"my own picture").unwrap();
    let e = draw_run(&dir, &dir.join("plots"), "test").unwrap_err();
    assert!(
        format!("{e:#}").contains("loss.png exists and is not a chart written by Ferrospeed"),
        "{e:#}"
    );
    assert_eq!(
        std::fs::read(dir.join("plots/loss.png")).unwrap(),
        b"my own picture"
    );
}

#[test]
fn missing_and_empty_metrics_say_so() {
    let dir = scratch("empty");
    let e = draw_run(&dir, &dir.join("plots"), "t").unwrap_err();
    assert!(format!("{e:#}").contains("has no metrics.jsonl"), "{e:#}");
    std::fs::write(dir.join("metrics.jsonl"), "{\"event\":\"start\"}\n").unwrap();
    let e = draw_run(&dir, &dir.join("plots"), "t").unwrap_err();
    assert!(
        format!("{e:#}").contains("has no step records yet"),
        "{e:#}"
    );
    assert!(!dir.join("plots").exists());
}
