//! The unit API driven the way the ZeRO-3 engine drives it: shards of flat
//! unit buffers read by range, forward per unit without autograd, backward per
//! unit by recompute + `run_backward` (tied embeddings included), packed
//! sequences, random initialisation.

mod common;

use std::collections::HashMap;

use common::{read_tensors, rel_err, variant};
use tch::{Device, Kind, Tensor};
use trainer::model::testing::{forward, forward_with_ctx, load_named, num_params, token_loss_sum};
use trainer::model::{
    forward_unit, read_unit_range, units, Ctx, LlamaConfig, ParamSource, RandomInit,
    SafetensorsWeights, UnitSpec,
};

fn open(name: &str) -> (LlamaConfig, SafetensorsWeights, HashMap<String, Tensor>) {
    let dir = variant(name);
    let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
    let weights = SafetensorsWeights::open(&dir).unwrap();
    let named = load_named(&cfg, &weights, Kind::Float, Device::Cpu).unwrap();
    (cfg, weights, named)
}

/// Each unit's flat buffer as `world` ranks would load it: padded to a
/// multiple of 256 * world, each rank reading only its slice.
fn gathered_flat(source: &dyn ParamSource, unit: &UnitSpec, world: i64) -> Tensor {
    let chunk = 256 * world;
    let padded = (unit.numel() + chunk - 1) / chunk * chunk;
    let shard = padded / world;
    let parts: Vec<Tensor> = (0..world)
        .map(|r| read_unit_range(source, unit, r * shard, shard).unwrap())
        .collect();
    let flat = Tensor::cat(&parts, 0);
    assert_eq!(flat.size(), [padded]);
    let tail = flat.narrow(0, unit.numel(), padded - unit.numel());
    assert_eq!(
        tail.abs().sum(Kind::Float).double_value(&[]),
        0.0,
        "padding is zero"
    );
    flat
}

#[test]
fn sharded_flat_buffers_give_the_same_logits() {
    for name in ["tied", "llama_bias"] {
        let (cfg, weights, named) = open(name);
        let r = read_tensors(&variant(name).join("reference.safetensors"));
        let ids = &r["input_ids"];
        let want = forward(&cfg, &named, ids).unwrap();
        let stored: i64 = weights
            .names()
            .iter()
            .map(|n| weights.shape(n).unwrap().iter().product::<i64>())
            .sum();
        assert_eq!(num_params(&cfg), stored, "{name}");
        let ctx = Ctx::causal(&cfg, ids.size()[1], Kind::Float, Device::Cpu);
        for world in [1, 3, 8] {
            let flats: Vec<Tensor> = units(&cfg)
                .iter()
                .map(|u| gathered_flat(&weights, u, world))
                .collect();
            let mut x = ids.shallow_clone();
            for u in units(&cfg) {
                let params = u.split_flat(&flats[u.index]).unwrap();
                let embed = units(&cfg)[0].split_flat(&flats[0]).unwrap().remove(0);
                let tied = u.uses_embedding.then_some(&embed);
                x = forward_unit(&cfg, &u, &params, tied, &x, &ctx).unwrap();
            }
            assert!(x.equal(&want), "{name}, world {world}");
        }
    }
}

/// Tensors laid end to end in one flat buffer.
fn flatten(tensors: &[Tensor]) -> Tensor {
    let flat: Vec<Tensor> = tensors.iter().map(|t| t.reshape([-1])).collect();
    Tensor::cat(&flat, 0)
}

/// Forward per unit without autograd, then backward per unit in reverse by
/// recompute + `run_backward`; the tied head's embedding gradient is added to
/// unit 0's. Must equal one autograd pass over the whole model.
fn unit_backward(name: &str) {
    let (cfg, _, named) = open(name);
    let r = read_tensors(&variant(name).join("reference.safetensors"));
    let (ids, labels) = (&r["input_ids"], &r["labels"]);
    let specs = units(&cfg);
    let flats: Vec<Tensor> = specs
        .iter()
        .map(|u| {
            let ts: Vec<Tensor> = u
                .params
                .iter()
                .map(|p| named[&p.name].shallow_clone())
                .collect();
            flatten(&ts)
        })
        .collect();
    let ctx = Ctx::causal(&cfg, ids.size()[1], Kind::Float, Device::Cpu);
    let embed_of = |flat: &Tensor| specs[0].split_flat(flat).unwrap().remove(0);

    // Forward, keeping each unit's input.
    let mut inputs = Vec::new();
    let mut x = ids.shallow_clone();
    tch::no_grad(|| {
        for u in &specs {
            let params = u.split_flat(&flats[u.index]).unwrap();
            let embed = embed_of(&flats[0]);
            inputs.push(x.shallow_clone());
            x = forward_unit(
                &cfg,
                u,
                &params,
                u.uses_embedding.then_some(&embed),
                &x,
                &ctx,
            )
            .unwrap();
        }
    });
    let logits = x.set_requires_grad(true);
    let (loss_sum, n) = token_loss_sum(&logits, labels);
    let loss = loss_sum / n as f64;
    let mut grad_out = Tensor::run_backward(&[&loss], &[&logits], false, false).remove(0);

    // Backward, unit by unit.
    let mut grads: Vec<Tensor> = flats.iter().map(Tensor::zeros_like).collect();
    for u in specs.iter().rev() {
        let flat = flats[u.index].detach().set_requires_grad(true);
        let params = u.split_flat(&flat).unwrap();
        let embed_flat = flats[0].detach().set_requires_grad(true);
        let embed = embed_of(&embed_flat);
        let input = if u.index == 0 {
            inputs[0].shallow_clone()
        } else {
            inputs[u.index].detach().set_requires_grad(true)
        };
        let out = forward_unit(
            &cfg,
            u,
            &params,
            u.uses_embedding.then_some(&embed),
            &input,
            &ctx,
        )
        .unwrap();
        let root = (&out * &grad_out).sum(Kind::Float);
        let mut wrt = vec![&flat];
        if u.uses_embedding {
            wrt.push(&embed_flat);
        }
        if u.index > 0 {
            wrt.push(&input);
        }
        let mut g = Tensor::run_backward(&[&root], &wrt, false, false);
        if u.index > 0 {
            grad_out = g.pop().unwrap();
        }
        if u.uses_embedding {
            grads[0] += g.pop().unwrap();
        }
        grads[u.index] += g.pop().unwrap();
    }

    // Reference: one autograd pass.
    let leaves: HashMap<String, Tensor> = named
        .iter()
        .map(|(k, v)| (k.clone(), v.detach().set_requires_grad(true)))
        .collect();
    let (sum, n) = token_loss_sum(&forward(&cfg, &leaves, ids).unwrap(), labels);
    let loss = sum / n as f64;
    for u in &specs {
        let ps: Vec<&Tensor> = u.params.iter().map(|p| &leaves[&p.name]).collect();
        let want = Tensor::run_backward(&[&loss], &ps, true, false);
        let want = flatten(&want);
        let err = rel_err(&grads[u.index], &want);
        assert!(err < 1e-5, "{name} unit {}: grad rel err {err:e}", u.index);
    }
}

#[test]
fn unit_backward_matches_autograd_untied() {
    unit_backward("gqa");
}

#[test]
fn unit_backward_matches_autograd_tied() {
    unit_backward("tied");
}

#[test]
fn packed_rows_match_separate_documents() {
    let (cfg, _, named) = open("gqa");
    let ids = (Tensor::arange(24, (Kind::Int64, Device::Cpu)) * 5).remainder(cfg.vocab_size);
    let (a, b) = (ids.narrow(0, 0, 10), ids.narrow(0, 10, 14));
    let pos = Tensor::cat(
        &[
            Tensor::arange(10, (Kind::Int64, Device::Cpu)),
            Tensor::arange(14, (Kind::Int64, Device::Cpu)),
        ],
        0,
    )
    .unsqueeze(0);
    let ctx = Ctx::packed_from_positions(&cfg, &pos, Kind::Float).unwrap();
    let packed = forward_with_ctx(&cfg, &named, &ids.unsqueeze(0), &ctx).unwrap();
    let la = forward(&cfg, &named, &a.unsqueeze(0)).unwrap();
    let lb = forward(&cfg, &named, &b.unsqueeze(0)).unwrap();
    let separate = Tensor::cat(&[la, lb], 1);
    let err = rel_err(&packed, &separate);
    assert!(err < 1e-5, "packed vs separate: {err:e}");
    // Without the mask the second document would see the first one.
    let leaky = forward_with_ctx(
        &cfg,
        &named,
        &ids.unsqueeze(0),
        &Ctx::with_positions(&cfg, &pos, Kind::Float),
    )
    .unwrap();
    assert!(rel_err(&leaky, &separate) > 1e-3);
}

#[test]
fn random_init_is_seeded_and_near_uniform() {
    let cfg = LlamaConfig::load(variant("gqa").join("config.json")).unwrap();
    let named = load_named(&cfg, &RandomInit::new(&cfg, 42), Kind::Float, Device::Cpu).unwrap();
    let again = load_named(&cfg, &RandomInit::new(&cfg, 42), Kind::Float, Device::Cpu).unwrap();
    for (k, v) in &named {
        assert!(v.equal(&again[k]), "{k}");
    }
    let ids = (Tensor::arange(32, (Kind::Int64, Device::Cpu)) * 7)
        .remainder(cfg.vocab_size)
        .view([2, 16]);
    let logits = forward(&cfg, &named, &ids).unwrap();
    let (sum, n) = token_loss_sum(&logits, &ids);
    assert_eq!(n, 30);
    let mean = sum.double_value(&[]) / n as f64;
    let uniform = (cfg.vocab_size as f64).ln();
    assert!(
        (mean - uniform).abs() < 0.05,
        "loss {mean} vs ln(V) {uniform}"
    );
}

#[test]
fn loss_ignores_masked_labels() {
    let logits = Tensor::randn([2, 5, 7], (Kind::Float, Device::Cpu));
    let labels = Tensor::full([2, 5], -100, (Kind::Int64, Device::Cpu));
    let (sum, n) = token_loss_sum(&logits, &labels);
    assert_eq!((sum.double_value(&[]), n), (0.0, 0));
    // Only the label after each position counts: the first label never does.
    let _ = labels.get(0).get(0).fill_(3);
    let _ = labels.get(1).get(4).fill_(2);
    let (sum, n) = token_loss_sum(&logits, &labels);
    assert_eq!(n, 1);
    let want = -logits
        .get(1)
        .get(3)
        .log_softmax(-1, Kind::Float)
        .double_value(&[2]);
    assert!((sum.double_value(&[]) - want).abs() < 1e-6);
}
