//! Charts of a run: the trainer leaves `<output_dir>/plots/` after a run,
//! `launch plot` draws a sanity run, a DPO run and a pipeline (one folder
//! per stage), and says in one line why it cannot.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BLUE: [u8; 3] = [31, 119, 180];
const ORANGE: [u8; 3] = [255, 127, 14];
const GREEN: [u8; 3] = [44, 160, 44];
const RED: [u8; 3] = [214, 39, 40];
const PURPLE: [u8; 3] = [148, 103, 189];

/// `launch 1 CONFIG` with short, single-threaded settings and `sets`.
fn train(dir: &Path, config: &str, sets: &[&str]) -> Output {
    let mut c = launch(dir);
    c.arg("1").arg(repo_root().join(config)).current_dir(dir);
    let base = ["train.threads=1", "comm=cpu", "logging.every_steps=1"];
    for s in base.iter().chain(sets) {
        c.args(["--set", s]);
    }
    c.output().unwrap()
}

fn plot(args: &[&Path]) -> Output {
    let mut c = Command::new(bin("launch"));
    c.arg("plot").args(args);
    c.output().unwrap()
}

/// The names of the PNG files in `dir`, sorted.
fn pngs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    names
}

/// Decodes the chart at `path` and checks that it is a full-size picture
/// with dark text and axes and lines in each of `colors`.
fn assert_chart(path: &Path, colors: &[(&str, [u8; 3])]) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).unwrap();
    assert_eq!((info.width, info.height), (960, 540), "{}", path.display());
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    let pixels: Vec<&[u8]> = rgb[..info.buffer_size()].chunks_exact(3).collect();
    let near = |c: [u8; 3]| {
        pixels
            .iter()
            .filter(|p| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 10))
            .count()
    };
    let white = near([255, 255, 255]);
    assert!(
        white > pixels.len() / 2,
        "{}: no white background",
        path.display()
    );
    let dark = pixels.iter().filter(|p| p.iter().all(|&v| v < 90)).count();
    assert!(
        dark > 1500,
        "{}: {dark} dark pixels: no title, labels or axes",
        path.display()
    );
    for (name, c) in colors {
        let n = near(*c);
        assert!(n > 150, "{}: {n} pixels of the {name} line", path.display());
    }
}

const SFT_CHARTS: [&str; 4] = [
    "grad_norm.png",
    "learning_rate.png",
    "loss.png",
    "tokens_per_s.png",
];

fn assert_sft_charts(dir: &Path) {
    assert_eq!(pngs(dir), SFT_CHARTS, "{}", dir.display());
    assert_chart(&dir.join("loss.png"), &[("train", BLUE), ("eval", ORANGE)]);
    for name in ["learning_rate.png", "grad_norm.png", "tokens_per_s.png"] {
        assert_chart(&dir.join(name), &[("metric", BLUE)]);
    }
}

fn assert_dpo_charts(dir: &Path) {
    let mut want = SFT_CHARTS.to_vec();
    want.extend(["accuracy.png", "rewards.png"]);
    want.sort();
    assert_eq!(pngs(dir), want, "{}", dir.display());
    let rewards = [("chosen", GREEN), ("rejected", RED), ("margin", PURPLE)];
    assert_chart(&dir.join("rewards.png"), &rewards);
    assert_chart(
        &dir.join("accuracy.png"),
        &[("train", BLUE), ("eval", ORANGE)],
    );
}

#[test]
fn a_sanity_run_leaves_its_charts_and_launch_plot_draws_them_again() {
    let dir = scratch("plots-sanity");
    let out = dir.join("out");
    let o = train(
        &dir,
        "configs/sanity.yaml",
        &[
            &format!("checkpoint.output_dir={}", out.display()),
            "train.sanity_steps=8",
            "eval.every_steps=4",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_sft_charts(&out.join("plots"));
    let charts = dir.join("charts");
    let o = plot(&[&out, Path::new("--out"), &charts]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("4 chart(s) in "), "{}", text(&o));
    assert_sft_charts(&charts);
}

#[test]
fn a_dpo_run_s_charts_show_the_rewards_and_their_accuracy() {
    let dir = scratch("plots-dpo");
    let out = dir.join("out");
    let o = train(
        &dir,
        "configs/sanity-dpo.yaml",
        &[
            &format!("checkpoint.output_dir={}", out.display()),
            "train.max_steps=6",
            "eval.every_steps=2",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    std::fs::remove_dir_all(out.join("plots")).unwrap();
    let o = plot(&[&out]);
    assert!(o.status.success(), "{}", text(&o));
    assert_dpo_charts(&out.join("plots"));
}

#[test]
fn a_pipeline_gets_one_folder_of_charts_per_stage() {
    let dir = scratch("plots-pipeline");
    let c = repo_root().join("configs");
    let common = "logging.every_steps: 1, train.threads: 1, comm: cpu, eval.every_steps: 2";
    let yaml = format!(
        "pipeline: t\noutput_dir: out\nstages:\n  - name: sft\n    config: {}\n    set: {{ train.sanity_steps: null, train.epochs: null, train.max_steps: 4, {common} }}\n  - name: dpo\n    config: {}\n    from: sft\n    set: {{ train.max_steps: 4, {common} }}\n",
        c.join("sanity.yaml").display(),
        c.join("sanity-dpo.yaml").display()
    );
    std::fs::write(dir.join("p.yaml"), yaml).unwrap();
    let mut l = launch(&dir);
    l.arg("1").arg(dir.join("p.yaml"));
    run_ok(l);
    let root = dir.join("out");
    let o = plot(&[&root]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("launch plot: sft: 4 chart(s)"),
        "{}",
        text(&o)
    );
    assert_sft_charts(&root.join("plots/sft"));
    assert_dpo_charts(&root.join("plots/dpo"));
}

/// `launch plot` on `dir`: it fails with exactly one line on stderr that
/// contains `want`.
fn assert_one_error_line(dir: &Path, want: &str) {
    let o = plot(&[dir]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{}", text(&o));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("launch: error: ") && err.contains(want),
        "{err}"
    );
}

#[test]
fn launch_plot_says_in_one_line_why_it_cannot_draw() {
    let dir = scratch("plots-errors");
    assert_one_error_line(&dir.join("nowhere"), "nowhere does not exist");
    let file = dir.join("file.txt");
    std::fs::write(&file, "x").unwrap();
    assert_one_error_line(&file, "file.txt is not a folder");
    let run = dir.join("run");
    std::fs::create_dir(&run).unwrap();
    assert_one_error_line(&run, "run has no metrics.jsonl");
    std::fs::write(
        run.join("metrics.jsonl"),
        "{\"event\":\"start\",\"world_size\":1}\n",
    )
    .unwrap();
    assert_one_error_line(
        &run,
        "metrics.jsonl has no step records yet: nothing to plot",
    );
    assert!(!run.join("plots").exists());
}

#[test]
fn launch_plot_draws_a_running_run_and_keeps_files_it_did_not_write() {
    let dir = scratch("plots-running");
    let run = dir.join("run");
    std::fs::create_dir_all(run.join("plots")).unwrap();
    let mut lines: Vec<String> = (1..=20)
        .map(|s| {
            format!(
                "{{\"step\":{s},\"train_loss\":{},\"learning_rate\":0.001}}",
                3.0 / s as f64
            )
        })
        .collect();
    lines.push("{\"step\":21,\"train_lo".into());
    std::fs::write(run.join("metrics.jsonl"), lines.join("\n")).unwrap();
    std::fs::write(run.join("plots/loss.png"), "my own picture").unwrap();
    assert_one_error_line(
        &run,
        "loss.png exists and is not a chart written by Ferrospeed",
    );
    assert_eq!(
        std::fs::read_to_string(run.join("plots/loss.png")).unwrap(),
        "my own picture"
    );
    let charts: PathBuf = dir.join("charts");
    let o = plot(&[&run, Path::new("--out"), &charts]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(pngs(&charts), ["learning_rate.png", "loss.png"]);
    assert_chart(&charts.join("loss.png"), &[("train", BLUE)]);
}

#[test]
fn a_chart_the_trainer_cannot_draw_is_a_warning_and_the_run_succeeds() {
    let dir = scratch("plots-warning");
    let out = dir.join("out");
    std::fs::create_dir_all(out.join("plots")).unwrap();
    std::fs::write(out.join("plots/loss.png"), "my own picture").unwrap();
    let o = train(
        &dir,
        "configs/sanity.yaml",
        &[
            &format!("checkpoint.output_dir={}", out.display()),
            "train.sanity_steps=4",
        ],
    );
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(all.contains("=> GREEN"), "{all}");
    assert!(
        all.contains("warning: charts in ")
            && all.contains("loss.png exists and is not a chart written by Ferrospeed"),
        "{all}"
    );
    let kept = std::fs::read_to_string(out.join("plots/loss.png")).unwrap();
    assert_eq!(kept, "my own picture");
}
