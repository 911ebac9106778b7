//! LoRA settings: the checks, PEFT's scaling, and PEFT's adapter_config.json
//! in both spellings of its targets.

use super::*;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn scale_is_peft_s() {
    let l = Lora::new(8, 16.0, 0.0, false, &names(&["q_proj"])).unwrap();
    assert_eq!(l.scale(), 2.0);
    let l = Lora::new(4, 16.0, 0.0, true, &names(&["q_proj"])).unwrap();
    assert_eq!(l.scale(), 8.0);
}

#[test]
fn bad_settings_are_refused_naming_them() {
    let e = |r, alpha, dropout, t: &[&str]| {
        Lora::new(r, alpha, dropout, false, &names(t))
            .unwrap_err()
            .to_string()
    };
    assert!(e(0, 16.0, 0.0, &["q_proj"]).contains("`r` must be a positive integer"));
    assert!(e(8, 0.0, 0.0, &["q_proj"]).contains("`lora_alpha`"));
    assert!(e(8, 16.0, 1.0, &["q_proj"]).contains("`lora_dropout`"));
    let m = e(8, 16.0, 0.0, &["qkv_proj"]);
    assert!(
        m.contains("\"qkv_proj\"") && m.contains("q_proj, k_proj, v_proj, o_proj"),
        "{m}"
    );
}

#[test]
fn all_linear_is_the_seven_projections() {
    let l = Lora::new(8, 16.0, 0.0, false, &names(&["all-linear"])).unwrap();
    assert_eq!(l.shape.targets().collect::<Vec<_>>(), LORA_TARGETS);
}

#[test]
fn peft_configs_read_in_both_spellings() {
    let suffixes = json!({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16,
        "target_modules": ["v_proj", "q_proj"], "use_rslora": true, "bias": "none", "rank_pattern": {}});
    let (l, saved) = Lora::from_adapter_config(&suffixes, 2, "a.json").unwrap();
    assert_eq!(l.shape.targets().collect::<Vec<_>>(), ["q_proj", "v_proj"]);
    assert!(l.rslora && saved.is_empty());
    let paths: Vec<String> = (0..2)
        .flat_map(|i| {
            ["self_attn.q_proj", "mlp.down_proj"].map(|m| format!("model.layers.{i}.{m}"))
        })
        .collect();
    let full = json!({"r": 8, "target_modules": paths, "modules_to_save": ["lm_head"]});
    let (l, saved) = Lora::from_adapter_config(&full, 2, "a.json").unwrap();
    assert_eq!(
        l.shape.targets().collect::<Vec<_>>(),
        ["q_proj", "down_proj"]
    );
    assert_eq!(saved, ["lm_head"]);
    // Layer 1 missing: adapters on some layers only.
    let e = Lora::from_adapter_config(&full, 3, "a.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("some layers only"), "{e}");
    let dora = json!({"r": 8, "target_modules": ["q_proj"], "use_dora": true});
    let e = Lora::from_adapter_config(&dora, 2, "a.json")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "a.json: `use_dora` is true; only false is supported");
}

#[test]
fn the_written_config_reads_back() {
    let l = Lora::new(16, 32.0, 0.1, false, &names(&["all-linear"])).unwrap();
    let (back, _) = Lora::from_adapter_config(&l.adapter_config("org/base"), 4, "x").unwrap();
    assert_eq!(back, l);
}

#[test]
fn nf4_holds_the_blocks_projection_matrices_only() {
    let held = |name: &str, dims| is_nf4_weight(name, dims);
    assert!(held("model.layers.0.self_attn.q_proj.weight", 2));
    assert!(held("model.layers.11.mlp.down_proj.weight", 2));
    assert!(!held("model.layers.0.self_attn.q_proj.bias", 1));
    assert!(!held("model.layers.0.self_attn.q_proj.lora_A.weight", 2));
    assert!(!held("model.layers.0.input_layernorm.weight", 1));
    assert!(!held("model.embed_tokens.weight", 2));
    assert!(!held("lm_head.weight", 2));
}
