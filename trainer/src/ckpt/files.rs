//! Checkpoint files: flat tensors in safetensors files with metadata
//! (read and written through [`crate::st`]), written atomically, and
//! checksummed.

use crate::st::{self, Entry, Writer};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use tch::Tensor;

/// Writes named 1-D tensors and string metadata to `path` (streamed
/// through a temporary name, synced, then renamed).
pub fn write(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let entries = tensors
        .iter()
        .map(|(name, t)| {
            let dtype = st::dtype(t.kind()).with_context(|| {
                format!(
                    "cannot store tensors of kind {:?} in a checkpoint",
                    t.kind()
                )
            })?;
            Ok(Entry {
                name: name.clone(),
                dtype,
                shape: t.size(),
            })
        })
        .collect::<Result<_>>()?;
    let mut metadata: Vec<(String, String)> = metadata.into_iter().collect();
    metadata.sort();
    let tmp = path.with_extension("partial");
    let mut out = Writer::create(&tmp, entries, &metadata)?;
    for (name, t) in tensors {
        out.put(name, t)?;
    }
    out.finish()?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} into place", tmp.display()))?;
    Ok(())
}

/// SHA-256 of a file, hex.
pub fn sha256(path: &Path) -> Result<String> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Writes a small file atomically (new temporary file, sync, rename), so
/// that a link at `path` is replaced, never written through.
pub fn write_small(path: &Path, contents: &[u8]) -> Result<()> {
    runconfig::safe_fs::replace(path, contents)
        .with_context(|| format!("cannot write {}", path.display()))
}
