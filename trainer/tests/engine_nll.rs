//! Evaluation and the DPO reference pass read per-token losses from the
//! engine's chunked head (`Engine::forward_nll`), never the whole logits:
//! the same values as the cross-entropy of the full logits.

mod common;

use common::{read_tensors, rel_err, variant};
use rendezvous::{StoreClient, StoreServer};
use runconfig::OptimizerConfig;
use std::time::Duration;
use tch::{Device, Kind};
use trainer::comm::{Comm, CpuComm};
use trainer::model::{LlamaConfig, SafetensorsWeights};
use trainer::objective::{token_nll, Batch};
use trainer::zero::Engine;

fn check(name: &str) {
    let dir = variant(name);
    let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
    let weights = SafetensorsWeights::open(&dir).unwrap();
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let mut store =
        StoreClient::connect("127.0.0.1", port, "t", "", Duration::from_secs(10)).unwrap();
    let comm: Box<dyn Comm> = Box::new(CpuComm::connect(0, 1, &mut store).unwrap());
    let opt = OptimizerConfig::default();
    let mut engine = Engine::new(cfg, &weights, comm, Kind::Float, Device::Cpu, &opt).unwrap();
    let t = read_tensors(&dir.join("train.safetensors"));
    let batch = Batch {
        input_ids: t["input_ids"].get(0),
        labels: t["labels"].get(0),
        position_ids: None,
        segment_ids: None,
        tokens: 0,
    };
    let whole = token_nll(&engine.forward(&batch).unwrap(), &batch.labels);
    let chunked = engine.forward_nll(&batch).unwrap();
    assert_eq!(chunked.size(), whole.size());
    let err = rel_err(&chunked, &whole);
    assert!(err < 1e-5, "{name}: relative error {err}");
    let targets = batch.labels.ne(-100).sum(Kind::Int64).int64_value(&[]);
    assert!(targets > 0 && chunked.sum(Kind::Double).double_value(&[]) > 0.0);
}

#[test]
fn chunked_eval_losses_match_the_whole_logits() {
    check("gqa");
}

#[test]
fn chunked_eval_losses_match_the_whole_logits_tied() {
    check("tied");
}
