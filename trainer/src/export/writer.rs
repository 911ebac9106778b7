//! The export's weights as Hugging Face safetensors shards, written as a
//! stream: the headers are known before any weight is (every name, dtype
//! and shape comes from the model's units), so tensors are written as
//! their unit arrives and no process ever holds the whole model.

use crate::st;
use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// A tensor to be written: name and shape.
pub struct Entry {
    pub name: String,
    pub shape: Vec<i64>,
}

/// Which shard file each tensor goes to.
pub struct Plan {
    files: Vec<(String, Vec<st::Entry>)>,
}

impl Plan {
    /// Splits `entries` (in order) into files of at most `max_bytes` each
    /// (a single tensor larger than that gets a file of its own), named
    /// `<stem>.safetensors` or `<stem>-0000k-of-0000n.safetensors`.
    pub fn new(entries: Vec<Entry>, kind: Kind, max_bytes: u64, stem: &str) -> Result<Plan> {
        let dtype = match kind {
            Kind::Float | Kind::BFloat16 | Kind::Half => st::dtype(kind),
            _ => None,
        }
        .with_context(|| format!("cannot export weights as {kind:?}"))?;
        let mut groups: Vec<Vec<st::Entry>> = vec![vec![]];
        let mut size = 0u64;
        for Entry { name, shape } in entries {
            let e = st::Entry { name, dtype, shape };
            if size > 0 && size + e.bytes() > max_bytes {
                groups.push(vec![]);
                size = 0;
            }
            size += e.bytes();
            groups.last_mut().unwrap().push(e);
        }
        let n = groups.len();
        let name = |i: usize| match n {
            1 => format!("{stem}.safetensors"),
            _ => format!("{stem}-{:05}-of-{n:05}.safetensors", i + 1),
        };
        let files = groups
            .into_iter()
            .enumerate()
            .map(|(i, g)| (name(i), g))
            .collect();
        Ok(Plan { files })
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
                total += e.bytes();
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
    out: Option<st::Writer>,
}

impl Writer {
    /// Starts writing `plan` into `dir`.
    pub fn new(plan: Plan, dir: &Path) -> Writer {
        Writer {
            plan,
            dir: dir.to_path_buf(),
            file: 0,
            out: None,
        }
    }

    /// Writes the next tensor of the plan (already in the export dtype).
    pub fn put(&mut self, name: &str, t: &Tensor) -> Result<()> {
        let out = match self.out.as_mut() {
            Some(out) => out,
            None => {
                let Some((file, entries)) = self.plan.files.get(self.file) else {
                    bail!("export: {name} is not in the plan");
                };
                let format = [("format".to_string(), "pt".to_string())];
                let out = st::Writer::create(&self.dir.join(file), entries.clone(), &format)?;
                self.out.insert(out)
            }
        };
        out.put(name, t)?;
        if out.done() {
            self.out.take().unwrap().finish()?;
            self.file += 1;
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
