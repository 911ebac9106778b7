//! The objectives on crafted batches: SFT takes its loss (hence its
//! gradient) from assistant tokens only (DPO's losses: `dpo_losses.rs`).

mod common;

use common::{repo_root, scratch};
use tch::{Device, Kind, Tensor};
use trainer::data::{load_samples, Tokenizer};
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
