//! Reading a safetensors file through a memory map: the header is parsed
//! once when the file is opened; tensor data is read by element range, so
//! a reader touches only the pages it asks for.

use super::{elt_size, kind, Dtype, TensorInfo};
use anyhow::{anyhow, bail, ensure, Context, Result};
use memmap2::{Mmap, UncheckedAdvice};
use safetensors::tensor::Metadata;
use safetensors::SafeTensors;
use std::fs::File;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

/// A safetensors file opened for reading.
pub struct Mapped {
    path: PathBuf,
    mmap: Mmap,
    /// Byte offset of the data section (8 + header length).
    data_start: usize,
    meta: Metadata,
}

impl Mapped {
    /// Maps `path` and parses its header.
    pub fn open(path: &Path) -> Result<Mapped> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: the files we read are never modified while a run reads them
        // (checkpoints and exports are renamed into place once written).
        let mmap = unsafe { Mmap::map(&file) }
            .with_context(|| format!("cannot map {}", path.display()))?;
        let (header, meta) = SafeTensors::read_metadata(&mmap)
            .map_err(|e| anyhow!("{}: not a safetensors file: {e}", path.display()))?;
        Ok(Mapped {
            path: path.to_path_buf(),
            mmap,
            data_start: 8 + header,
            meta,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every tensor of the file, by name, in the order of its data.
    pub fn tensors(&self) -> Vec<(String, &TensorInfo)> {
        let names = self.meta.offset_keys();
        names
            .into_iter()
            .filter_map(|n| self.meta.info(&n).map(|i| (n, i)))
            .collect()
    }

    /// A value of the file's `__metadata__`.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.meta.metadata().as_ref()?.get(key).map(String::as_str)
    }

    /// Tensor `name`, or an error naming the file.
    fn info(&self, name: &str) -> Result<&TensorInfo> {
        self.meta
            .info(name)
            .with_context(|| format!("{} has no tensor {name}", self.path.display()))
    }

    /// Number of elements of tensor `name`.
    pub fn len(&self, name: &str) -> Result<usize> {
        Ok(self.info(name)?.shape.iter().product())
    }

    /// The dtype and bytes of elements `[start, start + len)` of tensor
    /// `name` (row-major).
    pub fn bytes(&self, name: &str, start: usize, len: usize) -> Result<(Dtype, &[u8])> {
        let info = self.info(name)?;
        let numel: usize = info.shape.iter().product();
        if start + len > numel {
            bail!(
                "{}: {name} has {numel} elements, wanted [{start}, {})",
                self.path.display(),
                start + len
            );
        }
        let elt = elt_size(info.dtype);
        let at = self.data_start + info.data_offsets.0 + start * elt;
        Ok((info.dtype, &self.mmap[at..at + len * elt]))
    }

    /// Elements `[start, start + len)` of tensor `name`, a 1-D host tensor
    /// of its stored kind.
    pub fn read(&self, name: &str, start: usize, len: usize) -> Result<Tensor> {
        let (dtype, bytes) = self.bytes(name, start, len)?;
        let kind = kind(dtype).with_context(|| {
            format!(
                "{}: {name} is stored as {dtype}, which is not read here",
                self.path.display()
            )
        })?;
        Ok(Tensor::from_data_size(bytes, &[len as i64], kind))
    }

    /// Copies elements `[start, start + dst.numel())` of tensor `name` into
    /// `dst`, a contiguous host tensor of the stored kind.
    pub fn read_into(&self, name: &str, start: usize, dst: &Tensor) -> Result<()> {
        let (dtype, bytes) = self.bytes(name, start, dst.numel())?;
        ensure!(
            dst.device() == Device::Cpu && dst.is_contiguous() && kind(dtype) == Some(dst.kind()),
            "{}: {name} ({dtype}) cannot be read into a {:?} tensor on {:?}",
            self.path.display(),
            dst.kind(),
            dst.device()
        );
        if !bytes.is_empty() {
            // SAFETY: `dst` is a contiguous host tensor of exactly `bytes.len()` bytes.
            unsafe { std::slice::from_raw_parts_mut(dst.data_ptr() as *mut u8, bytes.len()) }
                .copy_from_slice(bytes);
        }
        Ok(())
    }

    /// Drops the pages read so far from this process's memory; they stay in
    /// the page cache and are read again when touched.
    pub fn release(&self) {
        // SAFETY: a read-only shared file mapping: dropped pages come back
        // from the file unchanged, so a slice into it reads the same bytes.
        let _ = unsafe { self.mmap.unchecked_advise(UncheckedAdvice::DontNeed) };
    }
}
