//! Putting an export in place. It is written into a temporary sibling of
//! its folder, marked complete, then swapped with what was there, so that a
//! failure at any point leaves the previous export whole. Only an empty
//! folder or an earlier export is ever replaced (see
//! `runconfig::contracts::export::inspect`); temporaries of dead processes are cleared.

use anyhow::{Context, Result};
use runconfig::contracts::export::{
    inspect, read_marker, replaceable, write_marker, Folder, Refused,
};
use serde_json::{Map, Value};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// An export being written: a fresh temporary folder next to its target,
/// removed again unless [`Staging::commit`] puts it in place.
pub struct Staging {
    tmp: PathBuf,
    out: PathBuf,
    hint: String,
    placed: bool,
}

/// `out` as an absolute path whose last component is a real name (so that
/// `.` and `..` name the folders they stand for).
fn resolve(out: &Path) -> Result<PathBuf> {
    if out
        .symlink_metadata()
        .is_ok_and(|m| !m.file_type().is_symlink())
    {
        return out
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", out.display()));
    }
    let name = out
        .file_name()
        .with_context(|| format!("{} does not name a folder", out.display()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    Ok(parent.canonicalize()?.join(name))
}

/// Whether process `pid` is gone.
fn dead(pid: i32) -> bool {
    // SAFETY: signal 0 only checks whether the process exists.
    unsafe { libc::kill(pid, 0) != 0 && *libc::__errno_location() == libc::ESRCH }
}

/// Removes `.<name>.tmp-<pid>` folders of dead processes that hold our marker.
fn clear_stale(parent: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let pid = file
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(dead) && read_marker(&e.path()).is_some() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Staging {
    /// Checks that `out` may be replaced (else the error ends with `hint`)
    /// and creates the temporary folder to write into.
    pub fn new(out: &Path, hint: &str) -> Result<Staging> {
        let out = resolve(out)?;
        replaceable(&out, hint)?;
        let here = std::env::current_dir()?;
        if inspect(&out) != Folder::Absent && here.starts_with(&out) {
            return Err(Refused(format!(
                "{} is the current folder (or holds it) and cannot be replaced; run from another folder",
                out.display()
            ))
            .into());
        }
        let (parent, name) = (out.parent().unwrap(), out.file_name().unwrap());
        let name = name.to_string_lossy();
        clear_stale(parent, &name);
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() && read_marker(&tmp).is_some() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let staging = Staging {
            tmp,
            out,
            hint: hint.to_string(),
            placed: false,
        };
        write_marker(&staging.tmp, false, Map::new())
            .with_context(|| format!("cannot write into {}", staging.tmp.display()))?;
        Ok(staging)
    }

    /// The folder to write the export's files into.
    pub fn dir(&self) -> &Path {
        &self.tmp
    }

    /// Where the export goes.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Marks the export complete (with `about` in its marker), swaps it into
    /// place and removes what it replaced.
    pub fn commit(mut self, about: Map<String, Value>) -> Result<()> {
        write_marker(&self.tmp, true, about)
            .with_context(|| format!("cannot write into {}", self.tmp.display()))?;
        std::fs::File::open(&self.tmp).and_then(|d| d.sync_all())?;
        replaceable(&self.out, &self.hint)?;
        let old = swap(&self.tmp, &self.out)
            .with_context(|| format!("cannot move the export into {}", self.out.display()))?;
        self.placed = true;
        if let Some(old) = old {
            match inspect(&old) {
                Folder::Foreign(why) => {
                    let name = self.out.file_name().unwrap_or_default().to_string_lossy();
                    let kept = self
                        .out
                        .with_file_name(format!("{name}.replaced-{}", std::process::id()));
                    std::fs::rename(&old, &kept)?;
                    eprintln!(
                        "warning: files were added while the export was written; the folder it replaced is kept at {} ({why})",
                        kept.display()
                    );
                }
                _ => std::fs::remove_dir_all(&old).with_context(|| {
                    format!("cannot remove the earlier export {}", old.display())
                })?,
            }
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Moves `tmp` to `out`; when `out` is a non-empty folder, exchanges the two
/// atomically and returns where the old one now is.
fn swap(tmp: &Path, out: &Path) -> std::io::Result<Option<PathBuf>> {
    match std::fs::rename(tmp, out) {
        Ok(()) => return Ok(None),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) => {}
        Err(e) => return Err(e),
    }
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(tmp)?, c(out)?);
    // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(Some(tmp.to_path_buf()));
    }
    let e = std::io::Error::last_os_error();
    if !matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    ) {
        return Err(e);
    }
    // No atomic exchange on this filesystem: move the old one aside first.
    let aside = tmp.with_file_name(format!(
        "{}.old",
        tmp.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::rename(out, &aside)?;
    if let Err(e) = std::fs::rename(tmp, out) {
        let _ = std::fs::rename(&aside, out);
        return Err(e);
    }
    Ok(Some(aside))
}
