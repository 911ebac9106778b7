//! Every DPO loss type (`train.dpo_loss_type`) on a fixed batch: the loss,
//! its gradient w.r.t. the logits and the reported values equal PyTorch's
//! (`scripts/dpo-reference`, open-instruct's and TRL's formulas) within 1e-6,
//! with all pairs in one rank's micro-batch and with the pairs split over two
//! ranks on the CPU ring.

mod common;

use common::{on_ranks, python, read_tensors, rel_err, repo_root, scratch};
use runconfig::{DpoLossType, TrainConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};
use trainer::comm::ReduceOp;
use trainer::dpo::loss::PairLoss;
use trainer::dpo::{sequence_logps, Dpo};
use trainer::objective::{Batch, Objective};

/// Pairs, sequence length and vocabulary of the fixed batch.
const M: i64 = 4;
const T: i64 = 11;
const V: i64 = 13;

/// What the test compares, in the order of `trainer::dpo::STATS` after the loss.
const VALUES: [&str; 6] = [
    "rewards_chosen",
    "rewards_rejected",
    "rewards_accuracy",
    "rewards_margin",
    "logps_chosen",
    "logps_rejected",
];

/// A loss type and its constants: `(type, beta, label smoothing, simpo_gamma)`.
type Case = (DpoLossType, f64, f64, Option<f64>);

const CASES: [Case; 7] = [
    (DpoLossType::Dpo, 0.25, 0.0, None),
    (DpoLossType::Dpo, 0.25, 0.1, None),
    (DpoLossType::DpoNorm, 0.5, 0.1, None),
    (DpoLossType::Simpo, 2.0, 0.0, Some(1.2)),
    (DpoLossType::Simpo, 0.5, 0.2, None),
    (DpoLossType::Wpo, 0.25, 0.1, None),
    (DpoLossType::Ipo, 0.5, 0.0, None),
];

/// The batch: prompts of 3 tokens, responses of different lengths (padding
/// at the end of some rows) and likelihoods (some rows favour their labels,
/// so that WPO's weights are far from 0), reference log-probs near the
/// policy's.
fn fixed_batch() -> HashMap<String, Tensor> {
    tch::manual_seed(11);
    let labels = Tensor::randint(V, [2 * M, T], (Kind::Int64, Device::Cpu));
    let favour = labels.narrow(1, 1, T - 1).one_hot(V).to_kind(Kind::Float)
        * (Tensor::rand([2 * M, 1, 1], (Kind::Float, Device::Cpu)) * 8.0);
    let logits = Tensor::randn([2 * M, T, V], (Kind::Float, Device::Cpu)) * 2.5;
    let mut head = logits.narrow(1, 0, T - 1);
    head += favour;
    let _ = labels.narrow(1, 0, 3).fill_(-100);
    for (row, len) in [(0, 2), (2, 4), (5, 1), (6, 3), (7, 5)] {
        let _ = labels.narrow(0, row, 1).narrow(1, T - len, len).fill_(-100);
    }
    let noise = Tensor::randn([2 * M], (Kind::Float, Device::Cpu)) * 1.5;
    let refs = sequence_logps(&logits, &labels) + noise;
    HashMap::from([
        ("logits".to_string(), logits),
        ("labels".to_string(), labels),
        ("ref_chosen".to_string(), refs.narrow(0, 0, M)),
        ("ref_rejected".to_string(), refs.narrow(0, M, M)),
    ])
}

/// PyTorch's loss, values and logits gradient for `case` on `batch`.
fn pytorch(dir: &Path, batch: &HashMap<String, Tensor>, case: Case) -> HashMap<String, Tensor> {
    let (kind, beta, smoothing, gamma) = case;
    let input = dir.join("in.safetensors");
    let mut pieces: Vec<(String, Tensor)> = batch
        .iter()
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    pieces.push(("beta".into(), Tensor::from_slice(&[beta])));
    pieces.push(("label_smoothing".into(), Tensor::from_slice(&[smoothing])));
    if let Some(g) = gamma {
        pieces.push(("simpo_gamma".into(), Tensor::from_slice(&[g])));
    }
    Tensor::write_safetensors(&pieces, &input).unwrap();
    let output = dir.join("out.safetensors");
    let status = std::process::Command::new(python())
        .arg(repo_root().join("scripts/dpo-reference"))
        .args([&input, &output])
        .arg(kind.name())
        .status()
        .unwrap();
    assert!(status.success(), "scripts/dpo-reference {kind}");
    read_tensors(&output)
}

/// The loss as the trainer builds it from the `train` keys.
fn pair_loss(case: Case) -> PairLoss {
    let (kind, beta, smoothing, gamma) = case;
    PairLoss::of(&TrainConfig {
        dpo_loss_type: kind,
        dpo_beta: beta,
        dpo_label_smoothing: smoothing,
        simpo_gamma: gamma,
        ..TrainConfig::default()
    })
}

/// One rank's share of the pairs: its loss and values (summed over every
/// rank's pairs with `reduce`) and the gradient of the loss w.r.t. its rows.
fn share(
    b: &HashMap<String, Tensor>,
    case: Case,
    pairs: &[i64],
    reduce: &mut dyn FnMut(&mut Tensor),
) -> (Vec<f64>, Tensor) {
    let rows = rows_of(pairs);
    let idx = Tensor::from_slice(pairs);
    let logits = b["logits"].index_select(0, &rows).set_requires_grad(true);
    let labels = b["labels"].index_select(0, &rows);
    let reference = pair_loss(case).kind.needs_reference().then(|| {
        (
            b["ref_chosen"].index_select(0, &idx),
            b["ref_rejected"].index_select(0, &idx),
        )
    });
    let objective = Dpo {
        loss: pair_loss(case),
        pairs: M,
        reference,
    };
    let batch = Batch {
        input_ids: labels.clamp_min(0),
        labels,
        position_ids: None,
        segment_ids: None,
        tokens: 0,
    };
    let (loss, values) = objective.loss(&logits, &batch).unwrap();
    let values = Vec::<f64>::try_from(&values).unwrap();
    let grad = Tensor::run_backward(&[&loss], &[&logits], false, false).remove(0);
    let mut all = Tensor::from_slice(&[&[loss.double_value(&[])], &values[..]].concat());
    reduce(&mut all);
    (Vec::<f64>::try_from(all).unwrap(), grad)
}

/// Every value against PyTorch's, within 1e-6 (relative where the value
/// exceeds 1).
fn compare_values(what: &str, got: &[f64], want: &HashMap<String, Tensor>) {
    let close = |name: &str, g: f64, w: f64| {
        assert!(
            (g - w).abs() <= 1e-6 * w.abs().max(1.0),
            "{what} {name}: ours {g}, PyTorch {w}"
        );
    };
    let loss = want["loss"].double_value(&[0]);
    close("loss", got[0], loss);
    close("train_loss (reported)", got[1] / M as f64, loss);
    for (name, g) in VALUES.iter().zip(&got[2..]) {
        close(name, g / M as f64, want[*name].double_value(&[0]));
    }
}

/// The gradient w.r.t. the logits against PyTorch's, within 1e-6 of its
/// largest element.
fn compare_grad(what: &str, grad: &Tensor, want: &HashMap<String, Tensor>) {
    let err = rel_err(grad, &want["grad"]);
    assert!(err <= 1e-6, "{what} gradient: relative error {err:e}");
    assert!(
        want["grad"].abs().max().double_value(&[]) > 1e-4,
        "{what}: the gradient is not trivially zero"
    );
}

/// The pairs of rank `rank` of 2.
fn pairs_of(rank: usize) -> Vec<i64> {
    let per = M / 2;
    (rank as i64 * per..(rank as i64 + 1) * per).collect()
}

/// Rows of the batch holding `pairs`: their chosen, then their rejected rows.
fn rows_of(pairs: &[i64]) -> Tensor {
    let rows: Vec<i64> = pairs
        .iter()
        .copied()
        .chain(pairs.iter().map(|p| p + M))
        .collect();
    Tensor::from_slice(&rows)
}

fn saved(dir: &Path, batch: &HashMap<String, Tensor>) -> PathBuf {
    let path = dir.join("batch.safetensors");
    let pieces: Vec<(String, Tensor)> = batch
        .iter()
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    Tensor::write_safetensors(&pieces, &path).unwrap();
    path
}

#[test]
fn every_loss_type_equals_pytorch_at_one_and_two_ranks() {
    let dir = scratch("dpo-losses");
    let batch = fixed_batch();
    let file = saved(&dir, &batch);
    for case in CASES {
        let what = format!("{} (beta {}, smoothing {})", case.0, case.1, case.2);
        let want = pytorch(&dir, &batch, case);
        let all: Vec<i64> = (0..M).collect();
        let (got, grad) = share(&batch, case, &all, &mut |_| {});
        compare_values(&format!("{what} W=1"), &got, &want);
        compare_grad(&format!("{what} W=1"), &grad, &want);

        let file = file.clone();
        let ranks = on_ranks(2, move |rank, mut comm| {
            let b = read_tensors(&file);
            share(&b, case, &pairs_of(rank), &mut |t| {
                comm.all_reduce(t, ReduceOp::Sum).unwrap()
            })
        });
        let mut grad = Tensor::zeros_like(&batch["logits"]);
        for (rank, (got, g)) in ranks.iter().enumerate() {
            compare_values(&format!("{what} W=2 rank {rank}"), got, &want);
            let _ = grad.index_copy_(0, &rows_of(&pairs_of(rank)), g);
        }
        compare_grad(&format!("{what} W=2"), &grad, &want);
    }
}
