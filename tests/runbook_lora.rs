//! The run book with LoRA: a tiny Llama and two datasets named by Hub id,
//! LoRA SFT at 2 ranks with 8-bit AdamW, DPO continuing its adapter, the
//! adapter pushed when DPO finishes. The pushed repository is a PEFT
//! adapter that names its base by Hub id; peft downloads both and chats. A
//! Ctrl-C in DPO and a re-run end with the adapter of the run never stopped.

mod common;

use common::runbook::{env, said_after, RunBook};
use common::*;

/// Downloads the adapter `argv[1]` and its base through peft, prints the
/// base it names, the class peft made, and how many tokens it generates.
const PEFT_CHAT: &str = r#"
import json, sys
from huggingface_hub import snapshot_download
from peft import AutoPeftModelForCausalLM
from transformers import AutoTokenizer
path = snapshot_download(sys.argv[1])
print("base", json.load(open(f"{path}/adapter_config.json"))["base_model_name_or_path"])
tok = AutoTokenizer.from_pretrained(path)
model = AutoPeftModelForCausalLM.from_pretrained(path)
print("class", type(model).__name__)
text = tok.apply_chat_template([{"role": "user", "content": "What is 2 plus 3?"}],
                               tokenize=False, add_generation_prompt=True)
ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
out = model.generate(input_ids=ids, max_new_tokens=6, do_sample=False)
print("generated", out.shape[1] - ids.shape[1], "tokens")
"#;

#[test]
fn the_lora_run_book_pushes_an_adapter_that_peft_loads_and_resumes_to_the_same_adapter() {
    let home = TempDir::new("runbook-lora");
    let book = RunBook {
        model: "acme/tiny-chat".into(),
        pushed: "acme/tiny-chat-dpo-lora".into(),
        make: TINY_LLAMA.into(),
        lora: Some("{ r: 8, alpha: 16, dropout: 0.0 }".into()),
    };
    let hub = book.hub(&home);
    let (_, said) = book.run(&hub, &home);
    assert!(said.contains("trained: LoRA r 8)"), "{said}");

    let files = book.pushed_files(&hub);
    for f in [
        "adapter_model.safetensors",
        "adapter_config.json",
        "README.md",
    ] {
        assert!(files.contains(&f.to_string()), "{files:?}");
    }
    assert!(
        !files.contains(&"model.safetensors".to_string()),
        "{files:?}"
    );

    let said = book.chat_with(&hub, &home, "peft", PEFT_CHAT);
    assert_eq!(said_after(&said, "base").as_deref(), Some("acme/tiny-chat"));
    assert_eq!(
        said_after(&said, "class").as_deref(),
        Some("PeftModelForCausalLM")
    );

    let hf = home.join("hf");
    book.assert_ctrl_c_resumes_to_same_weights(&home, &env(&hub, &hf));
}
