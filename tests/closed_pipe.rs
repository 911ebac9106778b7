//! `launch check ... | head -1`: a reader that goes away ends `launch`
//! quietly, as it ends other Unix tools, never with a panic.

mod common;
use common::*;
use std::process::Stdio;

/// The write end of a pipe whose read end is already closed.
fn pipe_without_reader() -> Stdio {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe fills two new descriptors; this test owns both.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: closing the read end this test just made.
    unsafe { libc::close(fds[0]) };
    // SAFETY: the write end is a valid descriptor owned by nobody else.
    Stdio::from(unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[1]) })
}

#[test]
fn launch_check_into_a_closed_pipe_ends_without_a_panic() {
    // The reader has left before `launch` prints its first line.
    let out = std::process::Command::new(bin("launch"))
        .arg("check")
        .arg(repo_root().join("configs/sanity.yaml"))
        .stdout(pipe_without_reader())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {err}",
        out.status
    );
}
