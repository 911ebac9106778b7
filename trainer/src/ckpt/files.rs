//! Checkpoint files: flat tensors in safetensors files with metadata,
//! written atomically, read through a memory map, and checksummed.

use anyhow::{bail, Context, Result};
use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use tch::{Kind, Tensor};

fn dtype(kind: Kind) -> Result<Dtype> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::Uint8 => Dtype::U8,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Half => Dtype::F16,
        Kind::Int64 => Dtype::I64,
        k => bail!("cannot store tensors of kind {k:?} in a checkpoint"),
    })
}

fn kind(dtype: Dtype) -> Result<Kind> {
    Ok(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::U8 => Kind::Uint8,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F16 => Kind::Half,
        Dtype::I64 => Kind::Int64,
        d => bail!("unexpected dtype {d:?} in a checkpoint"),
    })
}

/// The bytes of a tensor (copied to the host, contiguous).
pub fn tensor_bytes(t: &Tensor) -> Vec<u8> {
    let t = t.to_device(tch::Device::Cpu).contiguous();
    let n = t.numel() * t.kind().elt_size_in_bytes();
    let mut out = vec![0u8; n];
    if n > 0 {
        // SAFETY: `t` is a contiguous host tensor of exactly `n` bytes.
        out.copy_from_slice(unsafe { std::slice::from_raw_parts(t.data_ptr() as *const u8, n) });
    }
    out
}

/// Writes named 1-D tensors and string metadata to `path` (through a
/// temporary name, synced, then renamed).
pub fn write(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| {
            Ok((
                n.clone(),
                dtype(t.kind())?,
                t.size().iter().map(|&d| d as usize).collect(),
                tensor_bytes(t),
            ))
        })
        .collect::<Result<_>>()?;
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, d, s, b)| Ok((n.clone(), TensorView::new(*d, s.clone(), b)?)))
        .collect::<Result<_>>()?;
    let data = safetensors::serialize(views, Some(metadata))?;
    let tmp = path.with_extension("partial");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(&data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} into place", tmp.display()))?;
    Ok(())
}

/// A checkpoint file opened for reading.
pub struct ShardFile {
    map: memmap2::Mmap,
    path: std::path::PathBuf,
}

impl ShardFile {
    /// Maps `path`.
    pub fn open(path: &Path) -> Result<ShardFile> {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: checkpoint files are never modified after they are renamed into place.
        let map = unsafe { memmap2::Mmap::map(&f) }
            .with_context(|| format!("cannot map {}", path.display()))?;
        Ok(ShardFile {
            map,
            path: path.to_path_buf(),
        })
    }

    /// A metadata value of the file.
    pub fn metadata(&self, key: &str) -> Option<String> {
        let (_, meta) = safetensors::SafeTensors::read_metadata(&self.map).ok()?;
        meta.metadata().as_ref()?.get(key).cloned()
    }

    /// Number of elements of the 1-D tensor `name`.
    pub fn len(&self, name: &str) -> Result<usize> {
        let st = safetensors::SafeTensors::deserialize(&self.map)
            .with_context(|| format!("{} is not a safetensors file", self.path.display()))?;
        let view = st
            .tensor(name)
            .with_context(|| format!("{} has no tensor {name}", self.path.display()))?;
        Ok(view.shape().iter().product())
    }

    /// Elements `[start, start + len)` of the 1-D tensor `name`.
    pub fn read(&self, name: &str, start: usize, len: usize) -> Result<Tensor> {
        let st = safetensors::SafeTensors::deserialize(&self.map)
            .with_context(|| format!("{} is not a safetensors file", self.path.display()))?;
        let view = st
            .tensor(name)
            .with_context(|| format!("{} has no tensor {name}", self.path.display()))?;
        let k = kind(view.dtype())?;
        let elt = k.elt_size_in_bytes();
        let bytes = view.data();
        if (start + len) * elt > bytes.len() {
            bail!(
                "{}: {name} has {} elements, wanted [{start}, {})",
                self.path.display(),
                bytes.len() / elt,
                start + len
            );
        }
        Ok(Tensor::from_data_size(
            &bytes[start * elt..(start + len) * elt],
            &[len as i64],
            k,
        ))
    }
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

/// Writes a small file atomically (temporary name, sync, rename).
pub fn write_small(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} into place", tmp.display()))
}
