//! Memory-mapped Hugging Face safetensors checkpoints: one `model.safetensors`
//! or shards listed by `model.safetensors.index.json`. Only headers are parsed
//! up front; data is read on demand, by element range, so a ZeRO rank touches
//! only the pages of the shard it owns.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tch::{Kind, Tensor};

use super::source::ParamSource;
use super::units::ParamSpec;
use crate::st::{Dtype, Mapped};

/// Single-file checkpoint name.
pub const SINGLE_FILE: &str = "model.safetensors";
/// Index of a sharded checkpoint.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

struct Entry {
    file: usize,
    shape: Vec<i64>,
}

/// A checkpoint opened for reading by name and element range.
pub struct SafetensorsWeights {
    /// Where names are looked up (the single file or the index), for messages.
    origin: PathBuf,
    files: Vec<Mapped>,
    tensors: HashMap<String, Entry>,
}

impl SafetensorsWeights {
    /// Opens a model folder (with `model.safetensors` or
    /// `model.safetensors.index.json`) or one `.safetensors` file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_file() {
            return Self::from_files(path.to_path_buf(), &[path.to_path_buf()], None);
        }
        let index = path.join(INDEX_FILE);
        if index.is_file() {
            let text = std::fs::read_to_string(&index)
                .with_context(|| format!("cannot read {}", index.display()))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not valid JSON", index.display()))?;
            let map = json
                .get("weight_map")
                .and_then(|m| m.as_object())
                .with_context(|| format!("{}: missing object `weight_map`", index.display()))?;
            let mut names = HashMap::new();
            for (tensor, file) in map {
                let file = file.as_str().with_context(|| {
                    format!(
                        "{}: `weight_map.{tensor}` is not a file name",
                        index.display()
                    )
                })?;
                names.insert(tensor.clone(), file.to_string());
            }
            let files: BTreeSet<&String> = names.values().collect();
            let paths: Vec<PathBuf> = files.iter().map(|f| path.join(f)).collect();
            return Self::from_files(index.clone(), &paths, Some((path, names)));
        }
        let single = path.join(SINGLE_FILE);
        if single.is_file() {
            return Self::from_files(single.clone(), &[single], None);
        }
        bail!(
            "no weights in {}: expected {SINGLE_FILE} or {INDEX_FILE}",
            path.display()
        )
    }

    fn from_files(
        origin: PathBuf,
        paths: &[PathBuf],
        index: Option<(&Path, HashMap<String, String>)>,
    ) -> Result<Self> {
        let mut files = Vec::new();
        let mut tensors = HashMap::new();
        for (i, path) in paths.iter().enumerate() {
            let file = Mapped::open(path)?;
            for (name, info) in file.tensors() {
                let shape = info.shape.iter().map(|&d| d as i64).collect();
                tensors.insert(name, Entry { file: i, shape });
            }
            files.push(file);
        }
        if let Some((dir, names)) = index {
            for (tensor, file) in &names {
                let found = tensors
                    .get(tensor)
                    .map(|e| files[e.file].path() == dir.join(file));
                if found != Some(true) {
                    bail!(
                        "{}: tensor {tensor} is listed in {file}, which does not hold it",
                        origin.display()
                    );
                }
            }
            // Tensors present in a shard but absent from the index are not part of the model.
            tensors.retain(|name, _| names.contains_key(name));
        }
        Ok(SafetensorsWeights {
            origin,
            files,
            tensors,
        })
    }

    /// Names of all tensors in the checkpoint.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Stored shape of a tensor, or `None` when absent.
    pub fn shape(&self, name: &str) -> Option<&[i64]> {
        self.tensors.get(name).map(|e| e.shape.as_slice())
    }

    /// Looks a parameter up and checks its shape.
    fn entry(&self, param: &ParamSpec) -> Result<&Entry> {
        let Some(e) = self.tensors.get(&param.name) else {
            bail!(
                "tensor {} not found in {}",
                param.name,
                self.origin.display()
            );
        };
        if e.shape != param.shape {
            bail!(
                "tensor {} in {}: expected shape {:?}, found {:?}",
                param.name,
                self.files[e.file].path().display(),
                param.shape,
                e.shape
            );
        }
        Ok(e)
    }
}

impl ParamSource for SafetensorsWeights {
    fn read_range(&self, param: &ParamSpec, start: i64, len: i64) -> Result<Tensor> {
        let e = self.entry(param)?;
        let numel = param.numel();
        if start < 0 || len < 0 || start + len > numel {
            bail!(
                "tensor {}: range [{start}, {}) outside its {numel} elements",
                param.name,
                start + len
            );
        }
        let file = &self.files[e.file];
        let (start, len) = (start as usize, len as usize);
        let (dtype, _) = file.bytes(&param.name, start, len)?;
        if !matches!(dtype, Dtype::F32 | Dtype::BF16 | Dtype::F16) {
            bail!(
                "tensor {} in {}: dtype {dtype} is not supported (f32, bf16, f16)",
                param.name,
                file.path().display()
            );
        }
        Ok(file.read(&param.name, start, len)?.to_kind(Kind::Float))
    }
}
