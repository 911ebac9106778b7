//! A streaming writer of Hugging Face safetensors shards: the headers are
//! known before any weight is (every name, dtype and shape comes from the
//! model's units), so tensors can be written as their unit is gathered and
//! no process ever holds the whole model.

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// A tensor to be written: name and shape.
pub struct Entry {
    pub name: String,
    pub shape: Vec<i64>,
}

/// Which shard file each tensor goes to.
pub struct Plan {
    files: Vec<(String, Vec<Entry>)>,
    elt: usize,
    dtype: &'static str,
}

/// The safetensors name of a dtype.
fn dtype_name(kind: Kind) -> Result<&'static str> {
    Ok(match kind {
        Kind::Float => "F32",
        Kind::BFloat16 => "BF16",
        Kind::Half => "F16",
        k => bail!("cannot export weights as {k:?}"),
    })
}

impl Plan {
    /// Splits `entries` (in order) into files of at most `max_bytes` each
    /// (a single tensor larger than that gets a file of its own).
    pub fn new(entries: Vec<Entry>, kind: Kind, max_bytes: u64) -> Result<Plan> {
        let elt = kind.elt_size_in_bytes();
        let mut groups: Vec<Vec<Entry>> = vec![vec![]];
        let mut size = 0u64;
        for e in entries {
            let bytes = e.shape.iter().product::<i64>() as u64 * elt as u64;
            if size > 0 && size + bytes > max_bytes {
                groups.push(vec![]);
                size = 0;
            }
            size += bytes;
            groups.last_mut().unwrap().push(e);
        }
        let n = groups.len();
        let files = groups
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                (
                    if n == 1 {
                        "model.safetensors".to_string()
                    } else {
                        format!("model-{:05}-of-{n:05}.safetensors", i + 1)
                    },
                    g,
                )
            })
            .collect();
        Ok(Plan {
            files,
            elt,
            dtype: dtype_name(kind)?,
        })
    }

    /// `model.safetensors.index.json` for a sharded export (None for one file).
    pub fn index(&self) -> Option<Value> {
        if self.files.len() == 1 {
            return None;
        }
        let mut map = Map::new();
        let mut total = 0u64;
        for (file, entries) in &self.files {
            for e in entries {
                map.insert(e.name.clone(), json!(file));
                total += e.shape.iter().product::<i64>() as u64 * self.elt as u64;
            }
        }
        Some(json!({ "metadata": { "total_size": total }, "weight_map": map }))
    }
}

/// Writes the planned files as tensors arrive, in plan order.
pub struct Writer {
    plan: Plan,
    dir: PathBuf,
    file: usize,
    entry: usize,
    out: Option<BufWriter<File>>,
}

impl Writer {
    /// Starts writing `plan` into `dir`.
    pub fn new(plan: Plan, dir: &Path) -> Writer {
        Writer {
            plan,
            dir: dir.to_path_buf(),
            file: 0,
            entry: 0,
            out: None,
        }
    }

    fn open(&mut self) -> Result<()> {
        let (name, entries) = &self.plan.files[self.file];
        let mut header = Map::new();
        let mut at = 0u64;
        for e in entries {
            let bytes = e.shape.iter().product::<i64>() as u64 * self.plan.elt as u64;
            header.insert(e.name.clone(), json!({ "dtype": self.plan.dtype, "shape": e.shape, "data_offsets": [at, at + bytes] }));
            at += bytes;
        }
        header.insert("__metadata__".into(), json!({ "format": "pt" }));
        let mut text = Value::Object(header).to_string().into_bytes();
        text.resize(text.len().div_ceil(8) * 8, b' ');
        let path = self.dir.join(name);
        let mut out = BufWriter::new(
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        out.write_all(&(text.len() as u64).to_le_bytes())?;
        out.write_all(&text)?;
        self.out = Some(out);
        Ok(())
    }

    /// Writes the next tensor of the plan (already in the export dtype).
    pub fn put(&mut self, name: &str, t: &Tensor) -> Result<()> {
        if self.out.is_none() {
            self.open()?;
        }
        let e = &self.plan.files[self.file].1[self.entry];
        if e.name != name || t.size() != e.shape {
            bail!(
                "export out of order: expected {} {:?}, got {name} {:?}",
                e.name,
                e.shape,
                t.size()
            );
        }
        let bytes = crate::ckpt::files::tensor_bytes(t);
        let file = &self.plan.files[self.file].0;
        self.out
            .as_mut()
            .unwrap()
            .write_all(&bytes)
            .with_context(|| format!("writing {name} to {}", self.dir.join(file).display()))?;
        self.entry += 1;
        if self.entry == self.plan.files[self.file].1.len() {
            let out = self.out.take().unwrap();
            let path = self.dir.join(&self.plan.files[self.file].0);
            out.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            self.file += 1;
            self.entry = 0;
        }
        Ok(())
    }

    /// The index JSON, once every tensor was written.
    pub fn finish(self) -> Result<Option<Value>> {
        if self.file != self.plan.files.len() {
            bail!("export ended before every tensor was written");
        }
        Ok(self.plan.index())
    }
}
