//! Writing into an output_dir that others may share (a cluster's scratch
//! folder): never through a symbolic link someone planted there. A file is
//! either opened with `O_NOFOLLOW` (a link is refused, naming it) or written
//! whole into a new temporary file beside it and renamed into place (a link
//! at the final name is replaced, its target untouched).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// What a refused link says, after its path.
pub const LINK_REFUSED: &str =
    "it is a symbolic link, and a link in an output folder is never followed: remove it";

/// Opens `path` as `options` say, but refuses a symbolic link at `path`
/// itself (with [`LINK_REFUSED`]) instead of opening its target.
pub fn open_nofollow(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    options
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW on a link (dangling or not) fails with ELOOP.
            Some(libc::ELOOP) => io::Error::new(e.kind(), LINK_REFUSED),
            _ => e,
        })
}

/// `path` opened for appending, created when missing; never a link.
pub fn open_append(path: &Path) -> io::Result<File> {
    open_nofollow(path, OpenOptions::new().create(true).append(true))
}

/// A new file at `path`: refused when anything, a link included, is there.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Writes `contents` as the whole of `path` ([`replace_with`]).
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    replace_with(path, |f| f.write_all(contents))
}

/// Writes `path` as a whole: `write` fills a new temporary file beside it
/// (created exclusively, so never an existing file or link), which is
/// synced and renamed over `path`. A reader sees the old or the new file,
/// and a link at `path` is replaced, not followed.
pub fn replace_with<E: From<io::Error>>(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = temp_name(path);
    let written = create_new(&tmp).map_err(E::from).and_then(|mut f| {
        write(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).map_err(E::from)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// `.<name>.tmp-<pid>-<n>` beside `path`: unique within this process.
fn temp_name(path: &Path) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy());
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Creates the folder `dir` (and its parents) and refuses it when `dir`
/// itself is a symbolic link, so that files made in it stay in the
/// output folder.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    if dir.symlink_metadata()?.file_type().is_symlink() {
        return Err(io::Error::other(LINK_REFUSED));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("safe-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_link_is_refused_for_appending_and_its_target_is_untouched() {
        let dir = scratch("append");
        std::fs::write(dir.join("victim"), "keep").unwrap();
        symlink(dir.join("victim"), dir.join("log")).unwrap();
        let e = open_append(&dir.join("log")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(dir.join("victim")).unwrap(), "keep");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_replaced_link_is_gone_and_its_target_is_untouched() {
        let dir = scratch("replace");
        std::fs::write(dir.join("victim"), "keep").unwrap();
        symlink(dir.join("victim"), dir.join("marker")).unwrap();
        replace(&dir.join("marker"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("victim")).unwrap(), "keep");
        let meta = dir.join("marker").symlink_metadata().unwrap();
        assert!(meta.is_file());
        assert_eq!(std::fs::read_to_string(dir.join("marker")).unwrap(), "new");
        let _ = std::fs::remove_dir_all(dir);
    }
}
