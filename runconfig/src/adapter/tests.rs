//! A run from an adapter: the `lora:` it gets, what a `lora:` section
//! beside it may say, and the folder checks.

use super::*;
use crate::Resolved;

fn adapter_dir(name: &str, config: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("adapter-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(ADAPTER_CONFIG), config).unwrap();
    dir
}

const PEFT_DEFAULT: &str = r#"{"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 16,
  "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": ["v_proj", "q_proj"],
  "bias": "none", "modules_to_save": null, "use_rslora": false}"#;

fn run(dir: &Path, lora: &str, sets: &[&str]) -> Result<Resolved, String> {
    let yaml = format!(
        "run_name: t\nmodel: {{ config: c.json, adapter: {} }}\n{lora}",
        dir.display()
    );
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    crate::from_str(&yaml, "t.yaml", 1, &sets).map_err(|e| e.to_string())
}

#[test]
fn without_a_lora_section_the_run_takes_the_adapters_settings() {
    let dir = adapter_dir("fill", PEFT_DEFAULT);
    let lora = run(&dir, "", &[]).unwrap().config.lora.unwrap();
    assert_eq!((lora.r, lora.alpha, lora.dropout), (16, 32.0, 0.05));
    assert_eq!(lora.target_modules, ["q_proj", "v_proj"]);
    assert!(lora.modules_to_save.is_empty() && !lora.use_rslora);
}

#[test]
fn a_lora_section_may_set_dropout_and_base_and_takes_the_rest() {
    let dir = adapter_dir("partial", PEFT_DEFAULT);
    let r = run(&dir, "lora: { dropout: 0.0, base: nf4 }\n", &[]).unwrap();
    let lora = r.config.lora.unwrap();
    assert_eq!((lora.r, lora.alpha, lora.dropout), (16, 32.0, 0.0));
    assert_eq!(lora.base, LoraBase::Nf4);
    assert_eq!(r.lora_keys, ["lora.dropout", "lora.base"]);
    // Keys that agree (in another spelling) are accepted.
    let same = "lora: { r: 16, alpha: 32, target_modules: [q_proj, v_proj] }\n";
    assert!(run(&dir, same, &[]).is_ok());
}

#[test]
fn a_lora_key_that_disagrees_is_refused_naming_both_values() {
    let dir = adapter_dir("disagree", PEFT_DEFAULT);
    let e = run(&dir, "lora: { r: 8 }\n", &[]).unwrap_err();
    assert!(
        e.contains(&format!(
            "`lora.r` is 8 but the adapter at {} has r 16",
            dir.display()
        )),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    let e = run(&dir, "", &["lora.target_modules=[all-linear]"]).unwrap_err();
    assert!(
        e.contains("`lora.target_modules` is [q_proj, k_proj"),
        "{e}"
    );
    let e = run(&dir, "lora: { use_rslora: true }\n", &[]).unwrap_err();
    assert!(e.contains("`lora.use_rslora` is true"), "{e}");
    let e = run(&dir, "by_world_size: { 1: { lora.alpha: 16 } }\n", &[]).unwrap_err();
    assert!(e.contains("`lora.alpha` is 16 but"), "{e}");
}

#[test]
fn an_adapter_the_trainer_cannot_honour_is_refused() {
    let dora = PEFT_DEFAULT.replace("\"bias\"", "\"use_dora\": true, \"bias\"");
    let dir = adapter_dir("dora", &dora);
    let e = run(&dir, "", &[]).unwrap_err();
    assert!(
        e.contains("`model.adapter`") && e.contains("use_dora"),
        "{e}"
    );
}

#[test]
fn the_folder_needs_both_files() {
    let dir = adapter_dir("files", PEFT_DEFAULT);
    let e = check_folder(&dir).unwrap_err();
    assert!(e.contains("has no adapter_model.safetensors"), "{e}");
    let e = check_folder(&dir.join("nope")).unwrap_err();
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn export_merge_is_allowed_with_an_adapter_alone() {
    let yaml =
        "run_name: t\nmodel: { config: c.json, adapter: org/adapter }\nexport: { merge: true }\n";
    let r = crate::from_str(yaml, "t.yaml", 1, &[]).unwrap();
    assert_eq!(r.config.model.hub_adapter(), Some("org/adapter"));
    assert!(
        r.config.lora.is_none(),
        "a Hub adapter is settled once fetched"
    );
}
