//! Finding NCCL for cudarc. cudarc opens `libnccl.so` (and a few versioned
//! names), but pip's `nvidia-nccl` package and most systems ship only
//! `libnccl.so.2`. We find that file and link it as `libnccl.so` next to
//! the trainer binary, whose folder is on the binary's rpath.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Places where libnccl.so.2 is looked for, in order.
fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("NCCL_LIBRARY") {
        out.push(PathBuf::from(p));
    }
    // libtorch_cuda needs NCCL: once it is loaded, so is libnccl.so.2.
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    for line in maps.lines() {
        if let Some(path) = line
            .split_whitespace()
            .nth(5)
            .filter(|p| p.ends_with("/libnccl.so.2"))
        {
            out.push(PathBuf::from(path));
        }
        // torch/lib/libtorch_cpu.so -> site-packages/nvidia/nccl/lib/libnccl.so.2
        if let Some(path) = line
            .split_whitespace()
            .nth(5)
            .filter(|p| p.ends_with("/libtorch_cpu.so"))
        {
            if let Some(site) = Path::new(path)
                .parent()
                .and_then(Path::parent)
                .and_then(Path::parent)
            {
                out.push(site.join("nvidia/nccl/lib/libnccl.so.2"));
            }
        }
    }
    for dir in std::env::split_paths(&std::env::var_os("LD_LIBRARY_PATH").unwrap_or_default()) {
        out.push(dir.join("libnccl.so.2"));
    }
    for dir in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/local/cuda/lib64",
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/lib",
    ] {
        out.push(Path::new(dir).join("libnccl.so.2"));
    }
    out
}

/// Makes `libnccl.so` loadable by cudarc; the message says what is missing.
pub fn prepare() -> Result<PathBuf> {
    let Some(found) = candidates().into_iter().find(|p| p.is_file()) else {
        bail!(
            "NCCL was not found (libnccl.so.2): install it with `.venv/bin/pip install nvidia-nccl-cu13`, \
             or point NCCL_LIBRARY at libnccl.so.2"
        );
    };
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("trainer binary has no folder")?;
    let link = dir.join("libnccl.so");
    if std::fs::canonicalize(&link).ok() != std::fs::canonicalize(&found).ok() {
        let tmp = dir.join(format!("libnccl.so.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&found, &tmp)?;
        std::fs::rename(&tmp, &link).with_context(|| format!("cannot link {}", link.display()))?;
    }
    // SAFETY: cudarc's probe only tries to open the library.
    if !unsafe { cudarc::nccl::sys::is_culib_present() } {
        bail!("NCCL at {} could not be loaded", found.display());
    }
    Ok(found)
}
