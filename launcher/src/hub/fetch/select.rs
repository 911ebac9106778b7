//! Which files of a model repository a run needs: config.json, the
//! safetensors weights (with their index), the tokenizer and generation side
//! files, the chat template and the model card; of an adapter repository,
//! PEFT's two files and the same side files. Never PyTorch `.bin`/`.pth`
//! weights, nor the files in subfolders (`original/` of Llama holds a second
//! copy of the weights in another format).

/// Tokenizer, generation and card files a model folder may hold.
const SIDE_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "generation_config.json",
    "chat_template.jinja",
    "chat_template.json",
    "README.md",
    "LICENSE",
];

/// What a model run needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Weights, config and tokenizer (`model.path`).
    Model,
    /// The tokenizer files alone (`model.tokenizer`).
    Tokenizer,
    /// config.json alone (`launch check` plans memory from it).
    Config,
    /// A PEFT adapter (`model.adapter`): adapter_config.json,
    /// adapter_model.safetensors and the side files it has.
    Adapter,
}

/// The files of `files` (a repository's listing) that `need` asks for, or
/// why the repository cannot serve it.
pub fn model_files(files: &[String], need: Need) -> Result<Vec<String>, String> {
    let root: Vec<&String> = files.iter().filter(|f| !f.contains('/')).collect();
    let has = |name: &str| root.iter().any(|f| f.as_str() == name);
    let side = root.iter().filter(|f| SIDE_FILES.contains(&f.as_str()));
    let mut out: Vec<String> = Vec::new();
    if need == Need::Adapter {
        out.extend(adapter(&has)?);
        out.extend(side.map(|f| f.to_string()));
        return Ok(out);
    }
    if need != Need::Tokenizer {
        if !has("config.json") {
            return Err("it has no config.json (not a transformers model repository)".into());
        }
        out.push("config.json".into());
    }
    if need == Need::Config {
        return Ok(out);
    }
    if need == Need::Model {
        out.extend(weights(&root)?);
    }
    out.extend(side.map(|f| f.to_string()));
    if need == Need::Tokenizer && !has("tokenizer.json") {
        return Err("it has no tokenizer.json (Ferrospeed reads fast tokenizers)".into());
    }
    out.dedup();
    Ok(out)
}

/// `files` of a model repository whose tokenizer the run reads from it
/// (`needed`, when no `model.tokenizer` is set): refused without
/// tokenizer.json, before anything is downloaded.
pub fn with_tokenizer(files: Vec<String>, needed: bool) -> Result<Vec<String>, String> {
    match needed && !files.iter().any(|f| f == "tokenizer.json") {
        true => Err(
            "it has no tokenizer.json, and the run reads its tokenizer from the model \
             (Ferrospeed reads fast tokenizers); set model.tokenizer to a folder or repository \
             that has one"
                .into(),
        ),
        false => Ok(files),
    }
}

/// The two files of a PEFT adapter repository, or why it is not one.
fn adapter(has: &dyn Fn(&str) -> bool) -> Result<[String; 2], String> {
    if !has("adapter_config.json") {
        return Err("it has no adapter_config.json (not a PEFT adapter repository)".into());
    }
    if !has("adapter_model.safetensors") {
        return Err(match has("adapter_model.bin") {
            true => {
                "it holds only PyTorch weights (adapter_model.bin), no adapter_model.safetensors: \
                     Ferrospeed reads safetensors; save the adapter with `save_pretrained(..., \
                     safe_serialization=True)`"
                    .into()
            }
            false => "it has no adapter_model.safetensors".into(),
        });
    }
    Ok([
        "adapter_config.json".into(),
        "adapter_model.safetensors".into(),
    ])
}

fn weights(root: &[&String]) -> Result<Vec<String>, String> {
    let safetensors: Vec<String> = root
        .iter()
        .filter(|f| f.ends_with(".safetensors") || f.as_str() == "model.safetensors.index.json")
        .map(|f| f.to_string())
        .collect();
    if !safetensors.is_empty() {
        return Ok(safetensors);
    }
    let torch: Vec<&str> = root
        .iter()
        .filter(|f| f.ends_with(".bin") || f.ends_with(".pth") || f.ends_with(".pt"))
        .map(|f| f.as_str())
        .collect();
    match torch.first() {
        Some(first) => Err(format!(
            "it holds only PyTorch weights ({first}{}), no *.safetensors: Ferrospeed reads \
             safetensors; convert them (transformers: `save_pretrained(..., safe_serialization=True)`) \
             or pick a revision that has them",
            if torch.len() > 1 { ", ..." } else { "" }
        )),
        None => Err("it holds no *.safetensors weights".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn llama_takes_safetensors_and_side_files_never_original_or_bin() {
        let files = listing(&[
            ".gitattributes",
            "LICENSE",
            "README.md",
            "config.json",
            "generation_config.json",
            "model-00001-of-00004.safetensors",
            "model-00002-of-00004.safetensors",
            "model.safetensors.index.json",
            "original/consolidated.00.pth",
            "pytorch_model.bin",
            "special_tokens_map.json",
            "tokenizer.json",
            "tokenizer_config.json",
        ]);
        let got = model_files(&files, Need::Model).unwrap();
        assert!(got.contains(&"model-00002-of-00004.safetensors".to_string()));
        assert!(got.contains(&"model.safetensors.index.json".to_string()));
        assert!(got.contains(&"tokenizer.json".to_string()));
        assert!(!got
            .iter()
            .any(|f| f.ends_with(".bin") || f.starts_with("original/")));
        assert_eq!(model_files(&files, Need::Config).unwrap(), ["config.json"]);
    }

    #[test]
    fn bin_only_repositories_are_named_as_such() {
        let files = listing(&["config.json", "pytorch_model.bin", "tokenizer.json"]);
        let e = model_files(&files, Need::Model).unwrap_err();
        assert!(
            e.contains("only PyTorch weights (pytorch_model.bin)"),
            "{e}"
        );
        let e = model_files(&listing(&["tokenizer.json"]), Need::Model).unwrap_err();
        assert!(e.contains("no config.json"), "{e}");
    }

    #[test]
    fn an_adapter_takes_peft_s_files_and_side_files() {
        let files = listing(&[
            "README.md",
            "adapter_config.json",
            "adapter_model.safetensors",
            "tokenizer.json",
            "optimizer.pt",
            "checkpoint-10/adapter_model.safetensors",
        ]);
        let got = model_files(&files, Need::Adapter).unwrap();
        assert_eq!(
            got,
            [
                "adapter_config.json",
                "adapter_model.safetensors",
                "README.md",
                "tokenizer.json"
            ]
        );
        let e = model_files(
            &listing(&["adapter_config.json", "adapter_model.bin"]),
            Need::Adapter,
        );
        assert!(e
            .unwrap_err()
            .contains("only PyTorch weights (adapter_model.bin)"));
        let e = model_files(
            &listing(&["config.json", "model.safetensors"]),
            Need::Adapter,
        );
        assert!(e.unwrap_err().contains("no adapter_config.json"));
    }
}
