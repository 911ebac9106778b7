//! The objectives on crafted batches: SFT takes its loss (hence its
//! gradient) from assistant tokens only; DPO's loss and rewards equal the
//! standard formula computed by PyTorch.

mod common;

use common::{python, read_tensors, repo_root, scratch};
use tch::{Device, Kind, Tensor};
use trainer::data::{load_samples, Tokenizer};
use trainer::dpo::Dpo;
use trainer::objective::{Batch, CausalLm, Objective};

#[test]
fn sft_gradients_come_only_from_assistant_tokens() {
    let dir = scratch("sft-mask");
    let data = dir.join("chat.jsonl");
    let chat = r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2 plus 2?"}, {"role": "assistant", "content": "The answer is 4."}, {"role": "user", "content": "And 3 times 3?"}, {"role": "assistant", "content": "The answer is 9."}]}"#;
    std::fs::write(&data, format!("{chat}\n")).unwrap();
    let root = repo_root();
    let yaml = format!(
        "run_name: t\nmodel: {{ config: {}, tokenizer: {} }}\ndata: {{ objective: sft, max_seq_length: 128, datasets: [{{ path: {} }}], cache: false }}\n",
        root.join("configs/models/tiny-llama.json").display(),
        root.join("data/sanity-chat").display(),
        data.display()
    );
    let config = runconfig::from_str(&yaml, "t", 1, &[]).unwrap().config;
    let tok_dir = root.join("data/sanity-chat");
    let set = load_samples(&config, Some(&tok_dir), &dir).unwrap().train;
    let sample = set.sample(0);
    let t = sample.input_ids.len() as i64;

    // The trained tokens are exactly the two assistant answers.
    let tokenizer = Tokenizer::load(&tok_dir).unwrap();
    let trained: Vec<u32> = sample
        .labels
        .iter()
        .filter(|&&l| l >= 0)
        .map(|&l| l as u32)
        .collect();
    let text = tokenizer.decode(&trained).unwrap();
    assert!(
        text.contains("The answer is 4.") && text.contains("The answer is 9."),
        "{text:?}"
    );
    assert!(
        !text.contains("plus") && !text.contains("times") && !text.contains("brief"),
        "{text:?}"
    );

    // The gradient of the loss reaches exactly the positions that predict a labelled token.
    let logits = Tensor::randn([1, t, 256], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let labels = Tensor::from_slice(&sample.labels).view([1, t]);
    let batch = Batch {
        input_ids: Tensor::from_slice(&sample.input_ids).view([1, t]),
        labels,
        position_ids: None,
        segment_ids: None,
        tokens: t,
    };
    let (loss, _) = CausalLm {
        norm: sample.targets() as i64,
    }
    .loss(&logits, &batch)
    .unwrap();
    let grad = Tensor::run_backward(&[loss], &[&logits], false, false).remove(0);
    let touched =
        Vec::<f32>::try_from(grad.abs().sum_dim_intlist(2, false, Kind::Float).view([-1])).unwrap();
    for (pos, &g) in touched.iter().enumerate() {
        let predicts_label = sample.labels.get(pos + 1).is_some_and(|&l| l != -100);
        assert_eq!(g > 0.0, predicts_label, "position {pos}");
    }
}

#[test]
fn dpo_loss_and_rewards_equal_the_pytorch_reference() {
    let dir = scratch("dpo-ref");
    tch::manual_seed(3);
    let (m, t, v) = (3i64, 9i64, 17i64);
    let logits = Tensor::randn([2 * m, t, v], (Kind::Float, Device::Cpu)) * 3.0;
    let labels = Tensor::randint(v, [2 * m, t], (Kind::Int64, Device::Cpu));
    let _ = labels.narrow(1, 0, 4).fill_(-100); // the prompt
    let _ = labels.narrow(1, 7, 2).narrow(0, 1, 2).fill_(-100); // padding in two rows
    let ref_chosen = Tensor::from_slice(&[-20.5f32, -31.0, -25.25]);
    let ref_rejected = Tensor::from_slice(&[-22.0f32, -29.5, -26.0]);
    let beta = 0.25;
    let input = dir.join("in.safetensors");
    let pieces = [
        ("logits", logits.shallow_clone()),
        ("labels", labels.shallow_clone()),
        ("ref_chosen", ref_chosen.shallow_clone()),
        ("ref_rejected", ref_rejected.shallow_clone()),
        ("beta", Tensor::from_slice(&[beta])),
    ];
    Tensor::write_safetensors(&pieces, &input).unwrap();
    let output = dir.join("out.safetensors");
    let status = std::process::Command::new(python())
        .arg(repo_root().join("scripts/dpo-reference"))
        .arg(&input)
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success());
    let want = read_tensors(&output);

    let batch = Batch {
        input_ids: labels.clamp_min(0),
        labels,
        position_ids: None,
        segment_ids: None,
        tokens: 0,
    };
    let dpo = Dpo {
        beta,
        pairs: m,
        ref_chosen,
        ref_rejected,
    };
    let (loss, values) = dpo.loss(&logits, &batch).unwrap();
    let names = [
        "loss",
        "rewards_chosen",
        "rewards_rejected",
        "rewards_accuracy",
        "rewards_margin",
        "logps_chosen",
        "logps_rejected",
    ];
    let got: Vec<f64> = std::iter::once(loss.double_value(&[]))
        .chain(values[1..].iter().map(|x| x / m as f64))
        .collect();
    assert!(
        (values[0] / m as f64 - got[0]).abs() < 1e-6,
        "the reported loss is the loss"
    );
    for (name, g) in names.iter().zip(got) {
        let w = want[*name].double_value(&[0]);
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{name}: ours {g}, PyTorch {w}"
        );
    }
}
