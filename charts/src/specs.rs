//! What each chart shows: its file, title, y axis and lines.

use plotters::style::RGBColor;

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Noisy per-step values: raw points faint, an EMA line over them.
    Smoothed,
    /// A value the run sets (the learning rate): one plain line.
    Exact,
    /// Few points (evaluations): a line through marked points.
    Marked,
}

/// One metric on a chart.
#[derive(Debug)]
pub struct Line {
    /// The key in metrics.jsonl.
    pub key: &'static str,
    /// Its name in the legend.
    pub label: &'static str,
    pub color: RGBColor,
    pub style: Style,
}

/// One chart: a PNG file with one or more lines.
#[derive(Debug)]
pub struct Chart {
    pub file: &'static str,
    pub title: &'static str,
    pub y_label: &'static str,
    pub lines: &'static [Line],
}

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);

const fn line(key: &'static str, label: &'static str, color: RGBColor, style: Style) -> Line {
    Line {
        key,
        label,
        color,
        style,
    }
}

/// Every chart, with the only file names the crate writes.
pub const CHARTS: &[Chart] = &[
    Chart {
        file: "loss.png",
        title: "Loss",
        y_label: "loss",
        lines: &[
            line("train_loss", "train", BLUE, Style::Smoothed),
            line("eval_loss", "eval", ORANGE, Style::Marked),
        ],
    },
    Chart {
        file: "learning_rate.png",
        title: "Learning rate",
        y_label: "learning rate",
        lines: &[line("learning_rate", "learning rate", BLUE, Style::Exact)],
    },
    Chart {
        file: "grad_norm.png",
        title: "Gradient norm",
        y_label: "gradient norm (before clipping)",
        lines: &[line("grad_norm", "grad norm", BLUE, Style::Smoothed)],
    },
    Chart {
        file: "tokens_per_s.png",
        title: "Throughput",
        y_label: "tokens/s (all devices)",
        lines: &[line("tokens_per_s", "tokens/s", BLUE, Style::Smoothed)],
    },
    Chart {
        file: "rewards.png",
        title: "DPO rewards",
        y_label: "implicit reward",
        lines: &[
            line("rewards/chosen", "chosen", GREEN, Style::Smoothed),
            line("rewards/rejected", "rejected", RED, Style::Smoothed),
            line("rewards/margin", "margin", PURPLE, Style::Smoothed),
        ],
    },
    Chart {
        file: "accuracy.png",
        title: "DPO reward accuracy",
        y_label: "share of pairs with chosen > rejected",
        lines: &[
            line("rewards/accuracy", "train", BLUE, Style::Smoothed),
            line("eval_rewards/accuracy", "eval", ORANGE, Style::Marked),
        ],
    },
];
