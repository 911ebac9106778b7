//! DPO with LoRA adapters. The engine can leave the adapters out: the base
//! model alone, as PEFT's `disable_adapter()`. The reference pass runs the
//! run's initial model, as TRL does: from new adapters (`lora_B` zero) that
//! is the base, and the first step's rewards are 0; from a pretrained
//! adapter it is that adapter (TRL's frozen "ref" copy), not the base.
//! Three steps from either give the losses and rewards of TRL's DPOTrainer
//! (`scripts/make-dpo-lora-reference`), at world sizes 1 and 2.

mod common;

use common::lora_engine::{engine, engine_at, on_ranks, Opts};
use common::{dpo_lora_refs, lora_refs, rank_rows, read_tensors};
use runconfig::{DpoLossType, OptimizerConfig, TrainConfig};
use tch::{Device, Kind, Tensor};
use trainer::comm::CpuComm;
use trainer::data::batches::batch;
use trainer::data::{SampleSet, SetKind};
use trainer::dpo::loss::PairLoss;
use trainer::dpo::{logps_of_nll, Dpo};
use trainer::model::{LlamaConfig, PeftAdapter, RandomInit, SafetensorsWeights, WithAdapters};
use trainer::objective::CausalLm;
use trainer::references::reference_logps;
use trainer::zero::Engine;

/// TRL's `beta` and learning rate in the reference run.
const BETA: f64 = 0.1;
const LR: f64 = 1e-3;

/// The pairs of rows `i` and `i + M` of `ids` and `labels` `[2M, T]`, each
/// row cut after its last labelled token (what follows is padding).
fn pair_set(ids: &Tensor, labels: &Tensor) -> SampleSet {
    let mut set = SampleSet::new(SetKind::Pairs);
    let m = ids.size()[0] / 2;
    for i in 0..m {
        for row in [i, i + m] {
            let ids = Vec::<i64>::try_from(ids.get(row)).unwrap();
            let labels = Vec::<i64>::try_from(labels.get(row)).unwrap();
            let len = labels.iter().rposition(|&l| l != -100).unwrap() + 1;
            let tokens: Vec<u32> = ids[..len].iter().map(|&t| t as u32).collect();
            let targets: Vec<bool> = labels[..len].iter().map(|&l| l != -100).collect();
            set.push_row(&tokens, &targets, &[]);
        }
    }
    set
}

/// The rows of `llama_all`'s training batches as ten pairs.
fn lora_pairs() -> SampleSet {
    let t = read_tensors(&lora_refs().join("llama_all/train.safetensors"));
    let seq = t["input_ids"].size()[2];
    pair_set(
        &t["input_ids"].view([-1, seq]),
        &t["labels"].view([-1, seq]),
    )
}

/// The summed log-probs of every row of `set` (chosen rows, then rejected)
/// as the engine computes them now, in one batch.
fn all_logps(e: &mut Engine, set: &SampleSet) -> Vec<f64> {
    let items: Vec<usize> = (0..set.len()).collect();
    let nll = e.forward_nll(&batch(set, &items, 0, Device::Cpu)).unwrap();
    Vec::<f64>::try_from(logps_of_nll(&nll)).unwrap()
}

/// The reference pass's log-probs, chosen then rejected.
fn references(e: &mut Engine, set: &SampleSet, micro: usize) -> (Tensor, Tensor) {
    reference_logps(e, set, 0, micro).unwrap()
}

fn joined((c, r): &(Tensor, Tensor)) -> Vec<f64> {
    Vec::<f64>::try_from(Tensor::cat(&[c, r], 0)).unwrap()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// At W = 1 and 2, from adapters that move the logits (and dropout 0.1):
/// with the adapters off the engine computes the base model's log-probs
/// (an engine without LoRA), and the policy's again once they are back on.
#[test]
fn adapters_off_leave_the_base_model_alone() {
    for world in [1, 2] {
        let lora = on_ranks(world, |r, w, port| {
            let opts = Opts {
                dropout: 0.1,
                ..Opts::peft(usize::MAX)
            };
            let mut e = engine("llama_all", r, w, port, opts);
            let set = lora_pairs();
            let policy = all_logps(&mut e, &set);
            e.set_adapters(false);
            let off = all_logps(&mut e, &set);
            e.set_adapters(true);
            (policy, off, all_logps(&mut e, &set))
        });
        let base = on_ranks(world, |r, w, port| {
            let opts = Opts {
                lora: false,
                ..Opts::peft(usize::MAX)
            };
            all_logps(&mut engine("llama_all", r, w, port, opts), &lora_pairs())
        });
        let (policy, off, again) = &lora[0];
        let gap = max_diff(off, &base[0]);
        let moved = max_diff(policy, &base[0]);
        println!("W={world}: adapters off vs base {gap:.1e}; the adapters move the log-probs by {moved:.3}");
        assert!(
            gap < 1e-4,
            "W={world}: adapters off are {gap:e} off the base"
        );
        assert!(moved > 1e-2, "W={world}: the adapters move nothing");
        assert_eq!(policy, again, "W={world}: the adapters stay off");
    }
}

/// Training micro-steps apply the adapters (they train them) even while
/// they are switched off: the same loss and gradient norm.
#[test]
fn training_applies_the_adapters_while_switched_off() {
    let step = |on: bool| {
        on_ranks(1, move |r, w, port| {
            let mut e = engine("llama_all", r, w, port, Opts::peft(usize::MAX));
            e.set_adapters(on);
            let t = read_tensors(&lora_refs().join("llama_all/train.safetensors"));
            let (ids, labels) = (t["input_ids"].get(0), t["labels"].get(0));
            let (batch, targets) = rank_rows(&ids, &labels, 0, ids.size()[0]);
            let objective = CausalLm { norm: targets };
            let sum = e.micro_step(&batch, &objective).unwrap();
            (sum.double_value(&[0]), e.step(LR, 1.0).unwrap().grad_norm)
        })
        .swap_remove(0)
    };
    assert_eq!(step(false), step(true));
}

/// The DPO loss of TRL's run (`loss_type` sigmoid, open-instruct's dpo).
fn dpo_loss() -> PairLoss {
    PairLoss::of(&TrainConfig {
        dpo_loss_type: DpoLossType::Dpo,
        dpo_beta: BETA,
        ..TrainConfig::default()
    })
}

/// A micro-step of DPO on `items` of `set` (of `pairs` in the step), the
/// reference `refs`: its values summed over ranks, per pair.
fn dpo_step(e: &mut Engine, set: &SampleSet, items: &[usize], refs: &(Tensor, Tensor)) -> Vec<f64> {
    let idx: Vec<i64> = items.iter().map(|&i| i as i64).collect();
    let idx = Tensor::from_slice(&idx);
    let objective = Dpo {
        loss: dpo_loss(),
        pairs: set.len() as i64,
        reference: Some((refs.0.index_select(0, &idx), refs.1.index_select(0, &idx))),
    };
    let mut v = e
        .micro_step(&batch(set, items, 0, Device::Cpu), &objective)
        .unwrap();
    e.all_reduce_sum(&mut v).unwrap();
    let v = Vec::<f64>::try_from(v).unwrap();
    v.iter().map(|x| x / set.len() as f64).collect()
}

/// New adapters (PEFT's: `lora_B` zero), dropout 0.1: the first step's
/// rewards are 0 and its loss is ln 2.
#[test]
fn new_adapters_start_at_the_reference() {
    let dir = lora_refs().join("llama_all");
    let base_cfg = LlamaConfig::load(dir.join("base/config.json")).unwrap();
    let adapter = PeftAdapter::open(&dir.join("adapter"), base_cfg.num_hidden_layers).unwrap();
    let mut cfg = adapter.apply(&base_cfg);
    cfg.lora.as_mut().unwrap().dropout = 0.1;
    let base = SafetensorsWeights::open(dir.join("base")).unwrap();
    let fresh = RandomInit::new(&cfg, 5);
    let source = WithAdapters {
        base: &base,
        adapters: &fresh,
    };
    let comm = Box::new(CpuComm::single());
    let opt = OptimizerConfig::default();
    let mut e = Engine::new(cfg, &source, comm, Kind::Float, Device::Cpu, &opt).unwrap();
    e.set_dropout_seed(5);
    let set = lora_pairs();
    let refs = references(&mut e, &set, set.len());
    let items: Vec<usize> = (0..set.len()).collect();
    let v = dpo_step(&mut e, &set, &items, &refs);
    println!("first step: loss {}, rewards {} {}", v[0], v[1], v[2]);
    assert!(
        (v[0] - std::f64::consts::LN_2).abs() < 1e-9,
        "loss {}",
        v[0]
    );
    assert!(v[1].abs() < 1e-9 && v[2].abs() < 1e-9, "rewards {v:?}");
}

/// Rank `rank` of `world` trains TRL's run `case`: the reference
/// log-probs, then per step the loss and the mean rewards (chosen, rejected).
fn trl_run(case: &str, rank: usize, world: usize, port: u16) -> (Vec<f64>, Vec<[f64; 3]>) {
    let dir = dpo_lora_refs();
    let (base, adapter) = (dir.join("base"), dir.join(case).join("adapter"));
    let mut e = engine_at((&base, &adapter), rank, world, port, Opts::peft(usize::MAX));
    let t = read_tensors(&dir.join("pairs.safetensors"));
    let set = pair_set(&t["input_ids"], &t["labels"]);
    let per = set.len() / world;
    let refs = references(&mut e, &set, per);
    let items: Vec<usize> = (rank * per..(rank + 1) * per).collect();
    let steps = (0..3)
        .map(|_| {
            let v = dpo_step(&mut e, &set, &items, &refs);
            e.step(LR, 1.0).unwrap();
            [v[0], v[1], v[2]]
        })
        .collect();
    (joined(&refs), steps)
}

/// Three DPO steps at W = 1 and 2 from TRL's new adapter (reference: the
/// base) and from a pretrained one (reference: the adapter as it starts,
/// not the base): TRL's reference log-probs, losses and rewards.
#[test]
fn lora_dpo_matches_trl() {
    for case in ["new", "pretrained"] {
        let t = read_tensors(&dpo_lora_refs().join(case).join("run.safetensors"));
        let want_refs = joined(&(
            t["ref_chosen"].shallow_clone(),
            t["ref_rejected"].shallow_clone(),
        ));
        let get = |k: &str, s: usize| t[k].double_value(&[s as i64]);
        for world in [1, 2] {
            let runs = on_ranks(world, move |r, w, port| trl_run(case, r, w, port));
            let (refs, steps) = &runs[0];
            let off = max_diff(refs, &want_refs);
            assert!(
                off < 1e-4,
                "{case} W={world}: reference log-probs {off:e} off TRL's"
            );
            for (s, [loss, chosen, rejected]) in steps.iter().enumerate() {
                let want = [
                    get("losses", s),
                    get("rewards_chosen", s),
                    get("rewards_rejected", s),
                ];
                println!("{case} W={world} step {s}: loss {loss} rewards {chosen} {rejected}; TRL {want:?}");
                let at = format!("{case} W={world} step {s}");
                assert!((loss - want[0]).abs() < 1e-5 * want[0], "{at}: loss {loss}");
                assert!(
                    (chosen - want[1]).abs() < 1e-5,
                    "{at}: chosen reward {chosen}"
                );
                assert!(
                    (rejected - want[2]).abs() < 1e-5,
                    "{at}: rejected reward {rejected}"
                );
            }
        }
    }
}
