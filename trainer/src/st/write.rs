//! Writing a safetensors file as a stream: every name, dtype and shape is
//! known before any data, so the header goes first and each tensor is
//! written when it is ready; only one tensor is in memory at a time.

use super::{dtype, elt_size, Dtype};
use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// One tensor of a file: name, dtype and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<i64>,
}

impl Entry {
    /// Bytes of the tensor's data.
    pub fn bytes(&self) -> u64 {
        self.shape.iter().product::<i64>() as u64 * elt_size(self.dtype) as u64
    }
}

/// A file being written, tensor by tensor, in the order of its entries.
pub struct Writer {
    path: PathBuf,
    entries: Vec<Entry>,
    next: usize,
    out: BufWriter<File>,
}

/// The header: each entry with its data offsets, then `__metadata__`,
/// padded with spaces to a multiple of 8 bytes.
fn header(entries: &[Entry], metadata: Map<String, Value>) -> Vec<u8> {
    let mut map = Map::new();
    let mut at = 0u64;
    for e in entries {
        let end = at + e.bytes();
        let dtype = e.dtype.to_string();
        map.insert(
            e.name.clone(),
            json!({ "dtype": dtype, "shape": e.shape, "data_offsets": [at, end] }),
        );
        at = end;
    }
    map.insert("__metadata__".into(), Value::Object(metadata));
    let mut text = Value::Object(map).to_string().into_bytes();
    text.resize(text.len().div_ceil(8) * 8, b' ');
    text
}

impl Writer {
    /// Creates `path` and writes the header of `entries` (whose data
    /// follows in this order) with the string values of `metadata`.
    pub fn create(
        path: &Path,
        entries: Vec<Entry>,
        metadata: &[(String, String)],
    ) -> Result<Writer> {
        let meta = metadata
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        let text = header(&entries, meta);
        // Never through a link planted where the file goes.
        let file = runconfig::safe_fs::open_nofollow(
            path,
            File::options().write(true).create(true).truncate(true),
        )
        .with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = BufWriter::new(file);
        out.write_all(&(text.len() as u64).to_le_bytes())
            .and_then(|()| out.write_all(&text))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Writer {
            path: path.to_path_buf(),
            entries,
            next: 0,
            out,
        })
    }

    /// Whether every entry has been written.
    pub fn done(&self) -> bool {
        self.next == self.entries.len()
    }

    /// Writes the next tensor, which must match the next entry in name,
    /// shape and dtype.
    pub fn put(&mut self, name: &str, t: &Tensor) -> Result<()> {
        let Some(e) = self.entries.get(self.next) else {
            bail!("{}: {name} is one tensor too many", self.path.display());
        };
        if e.name != name || t.size() != e.shape || dtype(t.kind()) != Some(e.dtype) {
            bail!(
                "{}: expected {} {} {:?} next, got {name} {:?} {:?}",
                self.path.display(),
                e.name,
                e.dtype,
                e.shape,
                t.kind(),
                t.size()
            );
        }
        let t = t.to_device(Device::Cpu).contiguous();
        let n = t.numel() * t.kind().elt_size_in_bytes();
        if n > 0 {
            // SAFETY: `t` is a contiguous host tensor of exactly `n` bytes, alive here.
            let bytes = unsafe { std::slice::from_raw_parts(t.data_ptr() as *const u8, n) };
            self.out
                .write_all(bytes)
                .with_context(|| format!("writing {name} to {}", self.path.display()))?;
        }
        self.next += 1;
        Ok(())
    }

    /// Flushes and syncs the file, once every entry was written.
    pub fn finish(self) -> Result<()> {
        if !self.done() {
            bail!(
                "{}: ended before every tensor was written",
                self.path.display()
            );
        }
        let path = self.path;
        self.out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("writing {}", path.display()))
    }
}
