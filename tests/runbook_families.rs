//! The run book by Hub ids for each model family besides Llama: a tiny model
//! made by transformers' own class, SFT at 2 ranks with 8-bit AdamW, DPO
//! from it, pushed when DPO finishes. The pushed repository holds weights
//! and a config.json of that family; transformers downloads it, loads it as
//! that family's class and generates with it. For Gemma 3, a Ctrl-C in DPO
//! and a re-run also end with the weights of the run never stopped.

mod common;

use common::runbook::{env, said_after, RunBook};
use common::*;

/// Python that saves a tiny model (random weights, seed 0) of
/// `transformers.CLASS(transformers.CONFIG(...))` with the sanity chat
/// tokenizer and its special tokens: `python -c MAKE OUT TOKENIZER_FOLDER`.
fn tiny(config: &str, class: &str, layers: u32, extra: &str) -> String {
    format!(
        r#"
import shutil, sys, torch, transformers
out, data = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
c = transformers.{config}(vocab_size=512, hidden_size=64, intermediate_size=128,
    num_hidden_layers={layers}, num_attention_heads=4, num_key_value_heads=2,
    max_position_embeddings=256, pad_token_id=0, bos_token_id=1, eos_token_id=2, {extra})
transformers.{class}(c).save_pretrained(out)
for f in ["tokenizer.json", "tokenizer_config.json"]:
    shutil.copy(f"{{data}}/{{f}}", f"{{out}}/{{f}}")
"#
    )
}

/// Runs the run book from `make`'s model as `acme/tiny-FAMILY` and checks
/// the pushed model is a `model_type` FAMILY model of class `class`.
/// Returns the scratch folder, the Hub and the book for further checks.
fn run_family(family: &str, class: &str, make: String) -> (TempDir, LocalHub, RunBook) {
    let home = TempDir::new(&format!("runbook-{family}"));
    let book = RunBook {
        model: format!("acme/tiny-{family}"),
        pushed: format!("acme/tiny-{family}-dpo"),
        make,
        lora: None,
    };
    let hub = book.hub(&home);
    book.run(&hub, &home);

    let files = book.pushed_files(&hub);
    for f in ["model.safetensors", "config.json"] {
        assert!(files.contains(&f.to_string()), "{family}: {files:?}");
    }
    let said = book.chat(&hub, &home);
    let seen = |label| said_after(&said, label);
    assert_eq!(seen("model_type").as_deref(), Some(family), "{said}");
    assert_eq!(seen("architectures").as_deref(), Some(class), "{said}");
    assert_eq!(seen("class").as_deref(), Some(class), "{said}");
    (home, hub, book)
}

#[test]
fn qwen3_runs_the_run_book_and_loads_as_qwen3() {
    let make = tiny("Qwen3Config", "Qwen3ForCausalLM", 2, "head_dim=24");
    run_family("qwen3", "Qwen3ForCausalLM", make);
}

#[test]
fn mistral_with_a_sliding_window_runs_the_run_book_and_loads_as_mistral() {
    // A window of 32 tokens, shorter than the 96 of max_seq_length.
    let make = tiny(
        "MistralConfig",
        "MistralForCausalLM",
        2,
        "sliding_window=32",
    );
    run_family("mistral", "MistralForCausalLM", make);
}

#[test]
fn olmo2_runs_the_run_book_and_loads_as_olmo2() {
    let make = tiny("Olmo2Config", "Olmo2ForCausalLM", 2, "");
    run_family("olmo2", "Olmo2ForCausalLM", make);
}

#[test]
fn gemma3_runs_the_run_book_loads_as_gemma3_and_resumes_to_the_same_weights() {
    let make = tiny(
        "Gemma3TextConfig",
        "Gemma3ForCausalLM",
        3,
        "layer_types=['sliding_attention', 'full_attention', 'sliding_attention'], \
         sliding_window=32, head_dim=16, query_pre_attn_scalar=16, \
         final_logit_softcapping=30.0, tie_word_embeddings=True",
    );
    let (home, hub, book) = run_family("gemma3_text", "Gemma3ForCausalLM", make);
    let hf = home.join("hf");
    book.assert_ctrl_c_resumes_to_same_weights(&home, &env(&hub, &hf));
}
