//! Which libtorch this process loaded. tch binds one exact libtorch version,
//! but the loader takes any `libtorch_cpu.so` it finds first (a folder on
//! `LD_LIBRARY_PATH`, then the one the build linked); a build of another
//! version that still loads fails later in odd ways, so the trainer checks
//! at start and stops with one line.

use std::ffi::{c_int, c_void, CStr};
use std::path::{Path, PathBuf};

/// The libtorch version tch 0.24 binds (torch==2.11.0 on PyPI).
pub const BUILT_FOR: &str = "2.11.0";

/// Refuses a loaded libtorch whose version differs from [`BUILT_FOR`]; a
/// libtorch whose version cannot be read (no `version.py` or
/// `build-version` beside its `lib/`) passes.
pub fn check() -> Result<(), String> {
    let Some(lib) = loaded_folder() else {
        return Ok(());
    };
    let Some(found) = version_in(&lib) else {
        return Ok(());
    };
    if found.split('+').next() == Some(BUILT_FOR) {
        return Ok(());
    }
    Err(format!(
        "this trainer was built for libtorch {BUILT_FOR} (torch=={BUILT_FOR}) but loaded libtorch {found} from {}; \
         run scripts/bootstrap, or point LD_LIBRARY_PATH at the lib folder of torch {BUILT_FOR}",
        lib.display()
    ))
}

/// The folder of the `libtorch_cpu.so` this process loaded, as the loader
/// named it (a folder reached through a link keeps the link's name).
pub fn loaded_folder() -> Option<PathBuf> {
    let mut names: Vec<PathBuf> = Vec::new();
    // SAFETY: the callback only reads the loader's entries during the call
    // and pushes owned copies into `names`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(collect), &mut names as *mut _ as *mut c_void) };
    names
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "libtorch_cpu.so"))
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

unsafe extern "C" fn collect(info: *mut libc::dl_phdr_info, _: usize, data: *mut c_void) -> c_int {
    // SAFETY: the loader passes a valid entry; `data` is the Vec given above.
    let (info, names) = unsafe { (&*info, &mut *(data as *mut Vec<PathBuf>)) };
    if !info.dlpi_name.is_null() {
        // SAFETY: dlpi_name is a C string owned by the loader.
        let name = unsafe { CStr::from_ptr(info.dlpi_name) };
        names.push(PathBuf::from(name.to_string_lossy().into_owned()));
    }
    0
}

/// The version written beside a libtorch `lib/` folder: PyPI's torch has
/// `version.py` (`__version__ = '2.11.0+cu130'`), a libtorch zip has
/// `build-version`.
pub fn version_in(lib: &Path) -> Option<String> {
    let root = lib.parent()?;
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        let line = text.lines().find(|l| l.starts_with("__version__"))?;
        let value = line.split_once('=')?.1.trim();
        return Some(value.trim_matches(|c| c == '\'' || c == '"').to_string());
    }
    let text = std::fs::read_to_string(root.join("build-version")).ok()?;
    Some(text.trim().to_string()).filter(|v| !v.is_empty())
}
