//! Folders for the Hub tests: a `final/` folder as a run leaves it, a tiny
//! model with a PEFT adapter, file lists, and a byte-for-byte comparison.

use std::path::Path;

/// Python that saves a tiny Llama (random weights, seed 0) with the sanity
/// chat tokenizer: `python -c TINY_LLAMA OUT TOKENIZER_FOLDER`.
pub const TINY_LLAMA: &str = r#"
import shutil, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
out, data = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
c = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
LlamaForCausalLM(c).save_pretrained(out)
for f in ["tokenizer.json", "tokenizer_config.json"]:
    shutil.copy(f"{data}/{f}", f"{out}/{f}")
"#;

/// Python that saves the tiny Llama of [`TINY_LLAMA`] (with
/// `intermediate_size` INTER) to OUT/base, a PEFT LoRA adapter for it made
/// by peft (r 4, alpha 8, no dropout, on q, v and down, `lm_head` in
/// `modules_to_save`, every trained weight moved off its initial value) to
/// OUT/adapter, four pre-tokenized SFT rows to OUT/data.jsonl, and prints
/// `LOSS x`: their mean token loss under base + adapter, as transformers and
/// peft compute it. `python -c PEFT_ADAPTER OUT TOKENIZER_FOLDER INTER`.
pub const PEFT_ADAPTER: &str = r#"
import json, shutil, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
out, data, inter = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(0)
c = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=inter, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
base = LlamaForCausalLM(c)
base.save_pretrained(f"{out}/base")
for f in ["tokenizer.json", "tokenizer_config.json"]:
    shutil.copy(f"{data}/{f}", f"{out}/base/{f}")
lc = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
                target_modules=["q_proj", "v_proj", "down_proj"], modules_to_save=["lm_head"])
model = get_peft_model(base, lc)
with torch.no_grad():
    for n, p in model.named_parameters():
        if "lora_" in n or "modules_to_save" in n:
            p.add_(torch.randn_like(p) * 0.1)
model.save_pretrained(f"{out}/adapter")
g = torch.Generator().manual_seed(1)
rows = []
for n in [12, 9, 15, 7]:
    ids = torch.randint(3, 512, (n,), generator=g).tolist()
    rows.append({"input_ids": ids, "labels": [-100] * 3 + ids[3:]})
with open(f"{out}/data.jsonl", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
model.eval()
total, count = 0.0, 0
with torch.no_grad():
    for r in rows:
        logits = model(input_ids=torch.tensor([r["input_ids"]])).logits[0, :-1].double()
        target = torch.tensor(r["labels"][1:])
        total += torch.nn.functional.cross_entropy(logits, target, ignore_index=-100, reduction="sum").item()
        count += int((target != -100).sum())
print("LOSS", total / count)
"#;

/// Deterministic bytes (xorshift), fast to make.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes a `final/` folder as a run leaves it: three safetensors shards (one
/// large enough for multipart), an index, config, tokenizer files, README.
pub fn make_final(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let shards = [(1, 2_600_000), (2, 1_300_000), (3, 300_000)];
    for (i, size) in shards {
        std::fs::write(
            dir.join(format!("model-0000{i}-of-00003.safetensors")),
            bytes(i, size),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        r#"{"metadata":{"total_size":4200000},"weight_map":{}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"architectures":["LlamaForCausalLM"],"hidden_size":64}"#,
    )
    .unwrap();
    std::fs::write(dir.join("generation_config.json"), r#"{"do_sample":false}"#).unwrap();
    std::fs::write(
        dir.join("tokenizer.json"),
        "{\"version\":\"1.0\",\"model\":{}}\n".repeat(200),
    )
    .unwrap();
    std::fs::write(
        dir.join("README.md"),
        "---\nlicense: apache-2.0\n---\n# Tiny Llama SFT\n",
    )
    .unwrap();
}

/// Every file under `dir`, relative, sorted.
pub fn list(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Asserts `stored` holds exactly the files of `src`, byte for byte.
pub fn assert_same_files(src: &Path, stored: &Path) {
    assert_eq!(list(src), list(stored), "stored file list differs");
    for f in list(src) {
        let (a, b) = (
            std::fs::read(src.join(&f)).unwrap(),
            std::fs::read(stored.join(&f)).unwrap(),
        );
        assert!(
            a == b,
            "{f}: stored bytes differ ({} vs {} bytes)",
            a.len(),
            b.len()
        );
    }
}
