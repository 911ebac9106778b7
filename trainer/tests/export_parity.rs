//! The exported `final/` folder is a Hugging Face model: transformers loads
//! it and computes the logits Ferrospeed computes from the same files.

mod common;

use common::{python, read_tensors, rel_err, scratch, variant};
use rendezvous::{StoreClient, StoreServer};
use runconfig::OptimizerConfig;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tch::{Device, Kind, Tensor};
use trainer::comm::{Comm, CpuComm};
use trainer::export::{write_final, ModelFiles, Summary};
use trainer::model::testing::{forward, load_named};
use trainer::model::{LlamaConfig, SafetensorsWeights};
use trainer::objective::{Batch, CausalLm};
use trainer::zero::Engine;

/// Trains `name` for two steps on `world` ranks and exports it to `out`.
fn train_and_export(name: &'static str, world: usize, out: PathBuf, extra: &'static str) {
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let handles: Vec<_> = (0..world)
        .map(|rank| {
            let out = out.clone();
            std::thread::spawn(move || {
                let dir = variant(name);
                let yaml = format!("run_name: x\nmodel: {{ path: {} }}\n{extra}", dir.display());
                let config = runconfig::from_str(&yaml, "test", world as u32, &[])
                    .unwrap()
                    .config;
                let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
                let weights = SafetensorsWeights::open(&dir).unwrap();
                let mut store =
                    StoreClient::connect("127.0.0.1", port, "t", "", Duration::from_secs(10))
                        .unwrap();
                let comm: Box<dyn Comm> =
                    Box::new(CpuComm::connect(rank, world, &mut store).unwrap());
                let opt = OptimizerConfig::default();
                let mut engine =
                    Engine::new(cfg, &weights, comm, Kind::Float, Device::Cpu, &opt).unwrap();
                let t = read_tensors(&dir.join("train.safetensors"));
                let rows = t["input_ids"].size()[1] / world as i64;
                for step in 0..2 {
                    let (ids, labels) = (t["input_ids"].get(step), t["labels"].get(step));
                    let mine = |x: &Tensor| x.narrow(0, rank as i64 * rows, rows);
                    let _ = engine
                        .micro_step(
                            &Batch {
                                input_ids: mine(&ids),
                                labels: mine(&labels),
                                position_ids: None,
                                segment_ids: None,
                                tokens: 0,
                            },
                            &CausalLm { norm: 100 },
                        )
                        .unwrap();
                    engine.step(1e-2, 1.0).unwrap();
                }
                let files = ModelFiles::of(&config).unwrap();
                write_final(&mut engine, &config, &files, &out, &Summary::default(), "").unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a rank failed");
    }
}

fn hf_logits(model: &Path, ids: &Tensor, work: &Path) -> Tensor {
    let (inp, out) = (
        work.join("ids.safetensors"),
        work.join("logits.safetensors"),
    );
    Tensor::write_safetensors(&[("input_ids", ids)], &inp).unwrap();
    let status = std::process::Command::new(python())
        .arg(common::repo_root().join("scripts/hf-logits"))
        .args([model, &inp, &out])
        .status()
        .unwrap();
    assert!(status.success(), "scripts/hf-logits failed");
    read_tensors(&out).remove("logits").unwrap()
}

/// Trains, exports and compares; gives the `final/` folder.
fn check(name: &'static str) -> PathBuf {
    let work = scratch(&format!("export-{name}"));
    let out = work.join("final");
    train_and_export(
        name,
        2,
        out.clone(),
        "export: { dtype: f32, max_shard_size: 20KB }\n",
    );
    assert!(
        out.join("model.safetensors.index.json").is_file(),
        "small shards give an index"
    );
    assert!(out.join("README.md").is_file() && out.join("config.json").is_file());
    let cfg = LlamaConfig::load(out.join("config.json")).unwrap();
    let ours = load_named(
        &cfg,
        &SafetensorsWeights::open(&out).unwrap(),
        Kind::Float,
        Device::Cpu,
    )
    .unwrap();
    let ids = read_tensors(&variant(name).join("reference.safetensors"))
        .remove("input_ids")
        .unwrap();
    let logits = forward(&cfg, &ours, &ids).unwrap();
    let theirs = hf_logits(&out, &ids, &work);
    let err = rel_err(&logits, &theirs);
    println!("{name}: exported logits, ferrospeed vs transformers: {err:.2e}");
    assert!(err < 1e-4, "{name}: {err:e}");
    // The trained weights moved away from the checkpoint we started from.
    let start = read_tensors(&variant(name).join("reference.safetensors"))
        .remove("logits")
        .unwrap();
    assert!(
        rel_err(&logits, &start) > 1e-3,
        "{name}: the export holds the trained weights"
    );
    out
}

#[test]
fn exported_untied_model_loads_in_transformers_with_the_same_logits() {
    check("gqa");
}

#[test]
fn exported_tied_model_loads_in_transformers_with_the_same_logits() {
    check("tied");
}

#[test]
fn exported_qwen3_model_loads_in_transformers_as_qwen3() {
    let out = check("qwen3");
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(f)).unwrap()).unwrap()
    };
    let json = read("config.json");
    assert_eq!(json["model_type"], "qwen3");
    assert_eq!(
        json["architectures"],
        serde_json::json!(["Qwen3ForCausalLM"])
    );
    let names = read("model.safetensors.index.json")["weight_map"].clone();
    for norm in ["q_norm", "k_norm"] {
        let name = format!("model.layers.1.self_attn.{norm}.weight");
        assert!(names.get(&name).is_some(), "{name} missing: {names}");
    }
}

#[test]
fn exported_tied_qwen3_with_biases_loads_in_transformers_with_the_same_logits() {
    check("qwen3_tied_bias");
}

#[test]
fn exported_mistral_olmo2_gemma3_load_in_transformers_as_their_own_class() {
    let read = |p: PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    for (name, class) in [
        ("mistral_window", "MistralForCausalLM"),
        ("olmo2", "Olmo2ForCausalLM"),
        ("gemma3", "Gemma3ForCausalLM"),
        ("gemma3_legacy", "Gemma3ForCausalLM"),
    ] {
        let out = check(name);
        let json = read(out.join("config.json"));
        assert_eq!(json["architectures"], serde_json::json!([class]), "{name}");
        // Every field as read, but the dtype the weights are now saved in.
        let source = read(variant(name).join("config.json"));
        for (key, value) in source.as_object().unwrap() {
            if !key.ends_with("dtype") {
                assert_eq!(&json[key], value, "{name}: {key}");
            }
        }
    }
}

#[test]
fn default_export_is_bf16_in_one_file() {
    let work = scratch("export-bf16");
    let out = work.join("final");
    train_and_export("qwen2_bias", 1, out.clone(), "");
    let files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.contains(&"model.safetensors".to_string())
            && !files.iter().any(|f| f.ends_with("index.json")),
        "{files:?}"
    );
    let t = read_tensors(&out.join("model.safetensors"));
    assert!(t.values().all(|x| x.kind() == Kind::BFloat16));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(json["torch_dtype"], "bfloat16");
}
