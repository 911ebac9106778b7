//! `launch check ... | head -1`: a reader that goes away ends `launch`
//! quietly, as it ends other Unix tools, never with a panic.

mod common;
use common::*;
use std::process::Stdio;

#[test]
fn launch_check_into_a_closed_pipe_ends_without_a_panic() {
    let mut child = std::process::Command::new(bin("launch"))
        .arg("check")
        .arg(repo().join("configs/sanity.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader leaves before `launch` prints its first line.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
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
