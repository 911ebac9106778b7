//! LoRA dropout (`lora.dropout`, PEFT's `lora_dropout`) in the engine's
//! training micro-steps, on the references of `scripts/make-lora-references`
//! (adapters whose `lora_B` is not zero): the backward pass's recompute
//! draws the masks of the forward pass, so its gradients are those of the
//! kept graphs; dropout changes the training loss and gradients but no
//! evaluation pass; the dropped input keeps its mean.

mod common;

use common::lora_engine::{engine, on_ranks, run, Opts, Run};
use common::{lora_refs, rank_rows, read_tensors};
use tch::{Device, Kind, Tensor};
use trainer::model::Dropout;
use trainer::objective::CausalLm;

const P: f64 = 0.1;

/// Relative error of `got` against `want`.
fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

/// The largest difference between two runs' trained adapters.
fn adapter_diff(a: &Run, b: &Run) -> f64 {
    let adapters = a.weights.iter().filter(|(n, _)| n.contains(".lora_"));
    let diff = |(n, w): (&String, &Tensor)| (w - &b.weights[n]).abs().max().double_value(&[]);
    adapters.map(diff).fold(0.0, f64::max)
}

/// At W = 1 and 2, five steps with dropout 0.1: recomputing every unit
/// gives the losses, gradient norms and adapters of keeping every graph
/// (the same masks), and they are not those of a run without dropout.
#[test]
fn the_recompute_draws_the_masks_of_the_forward_pass() {
    let opts = |recomputed, dropout| Opts {
        dropout,
        ..Opts::peft(recomputed)
    };
    for world in [1, 2] {
        let recomputed = run("llama_all", world, opts(usize::MAX, P));
        let kept = run("llama_all", world, opts(0, P));
        let plain = run("llama_all", world, opts(usize::MAX, 0.0));
        let pairs = recomputed.norms.iter().zip(&kept.norms);
        for (step, (a, b)) in pairs.enumerate() {
            assert!(
                rel(*a, *b) < 1e-6,
                "W={world} step {step}: gradient norm {a} recomputed, {b} kept"
            );
            let (la, lb) = (recomputed.losses[step], kept.losses[step]);
            assert!(
                rel(la, lb) < 1e-6,
                "W={world} step {step}: loss {la} vs {lb}"
            );
        }
        let diff = adapter_diff(&recomputed, &kept);
        assert!(diff < 1e-6, "W={world}: adapters differ by {diff:e}");
        let (with, without) = (recomputed.norms[0], plain.norms[0]);
        println!(
            "W={world}: first gradient norm {with} with dropout {P}, {without} without; \
             losses {:?} vs {:?}",
            recomputed.losses, plain.losses
        );
        assert!(
            rel(with, without) > 1e-3,
            "W={world}: dropout leaves the gradient norm at {without}"
        );
        assert!(
            rel(recomputed.losses[0], plain.losses[0]) > 1e-4,
            "W={world}: dropout leaves the training loss at {}",
            plain.losses[0]
        );
    }
}

/// One rank's evaluation log-likelihoods (before and after a training
/// micro-step on the same batch) and that micro-step's loss sum.
fn eval_and_train(dropout: f64) -> (Vec<f32>, Vec<f32>, f64) {
    on_ranks(1, move |r, w, port| {
        let opts = Opts {
            dropout,
            ..Opts::peft(usize::MAX)
        };
        let mut e = engine("llama_all", r, w, port, opts);
        let t = read_tensors(&lora_refs().join("llama_all/train.safetensors"));
        let (ids, labels) = (t["input_ids"].get(0), t["labels"].get(0));
        let (batch, targets) = rank_rows(&ids, &labels, 0, ids.size()[0]);
        let nll = |e: &mut trainer::zero::Engine| {
            let nll = e.forward_nll(&batch).unwrap();
            Vec::<f32>::try_from(nll.reshape([-1])).unwrap()
        };
        let before = nll(&mut e);
        let objective = CausalLm { norm: targets };
        let sum = e.micro_step(&batch, &objective).unwrap().double_value(&[0]);
        (before, nll(&mut e), sum)
    })
    .swap_remove(0)
}

/// Dropout changes the loss of a training micro-step, but not evaluation's
/// log-likelihoods (nor after that micro-step).
#[test]
fn dropout_changes_training_not_evaluation() {
    let (eval_p, after_p, train_p) = eval_and_train(P);
    let (eval_0, after_0, train_0) = eval_and_train(0.0);
    assert_eq!(eval_p, eval_0, "evaluation with dropout {P}");
    assert_eq!(
        after_p, eval_0,
        "evaluation after a micro-step with dropout"
    );
    assert_eq!(after_0, eval_0);
    println!("training loss sum: {train_p} with dropout {P}, {train_0} without");
    assert!(
        rel(train_p, train_0) > 1e-4,
        "dropout leaves the training loss sum at {train_0}"
    );
}

/// The dropped input: a share `p` of zeros, the rest divided by `1 - p`,
/// its mean the input's; the same mask for the same key, another for
/// another micro-step, rank, layer or projection; no dropout at `p = 0`.
#[test]
fn dropped_input_keeps_its_mean() {
    let x = Tensor::full([512, 256], 3.0, (Kind::Float, Device::Cpu));
    let d = Dropout::new(P, 42, 7, 0, 1).unwrap().at(3, 2);
    let y = d.apply(&x);
    let zeros = y.eq(0.0).to_kind(Kind::Double).mean(Kind::Double);
    let zeros = zeros.double_value(&[]);
    assert!((zeros - P).abs() < 0.005, "{zeros} of the elements dropped");
    let mean = y.mean(Kind::Double).double_value(&[]);
    assert!((mean - 3.0).abs() < 0.01 * 3.0, "mean {mean}, not 3");
    let kept = y.masked_select(&y.ne(0.0));
    let off = (kept - 3.0 / (1.0 - P)).abs().max().double_value(&[]);
    assert!(off < 1e-5, "kept elements off by {off}");
    assert!(d.keep(&x).equal(&d.keep(&x)), "one key, two masks");
    let others = [
        Dropout::new(P, 42, 7, 0, 2).unwrap().at(3, 2),
        Dropout::new(P, 42, 7, 1, 1).unwrap().at(3, 2),
        Dropout::new(P, 42, 8, 0, 1).unwrap().at(3, 2),
        Dropout::new(P, 43, 7, 0, 1).unwrap().at(3, 2),
        Dropout::new(P, 42, 7, 0, 1).unwrap().at(4, 2),
        Dropout::new(P, 42, 7, 0, 1).unwrap().at(3, 1),
    ];
    for o in others {
        assert!(!o.keep(&x).equal(&d.keep(&x)), "{o:?} draws {d:?}'s mask");
    }
    assert!(Dropout::new(0.0, 42, 7, 0, 1).is_none());
}
