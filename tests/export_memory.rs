//! `launch export` of a checkpoint streams the weights unit by unit: its
//! peak memory is about one unit and one output tensor, far below the
//! optimizer moments and gradient buffers a training rank holds.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// Runs `cmd` to its end and returns its exit code and the peak resident
/// memory, in bytes, of it or of any descendant it waited for (`wait4`).
#[allow(
    clippy::zombie_processes,
    reason = "reaped by wait4, which also reports its memory"
)]
fn peak_rss(mut cmd: Command) -> (i32, u64) {
    let child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut status = 0;
        // SAFETY: zeroed rusage is a valid out-parameter.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child, without blocking.
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(got >= 0, "wait4 failed");
        if got == pid {
            assert!(libc::WIFEXITED(status), "{cmd:?} was killed");
            // ru_maxrss is in KiB on Linux.
            return (libc::WEXITSTATUS(status), usage.ru_maxrss as u64 * 1024);
        }
        if Instant::now() > deadline {
            // SAFETY: killing and reaping our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            unsafe { libc::waitpid(pid, &mut status, 0) };
            panic!("{cmd:?} did not end within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn exporting_a_checkpoint_needs_about_the_bf16_model_and_no_optimizer_state() {
    let dir = scratch("export-memory");
    let out = dir.join("run");
    let model = repo_root().join("configs/models/bench-20m.json");
    let model = format!("model.config={}", model.display());
    let sets = [
        model.as_str(),
        "train.max_steps=1",
        "checkpoint.every_steps=1",
        "train.effective_batch_size=8",
        "export.dtype=bf16",
    ];
    let trained = tiny_pretrain(&dir, 2, &out, &sets).output().unwrap();
    assert!(trained.status.success(), "{}", text(&trained));
    let checkpoint = out.join("checkpoints/step-000001");

    // The trainer binary doing nothing: it loads libtorch, refuses the call, exits.
    let mut nothing = Command::new(bin("trainer"));
    nothing.arg("export").stderr(Stdio::null());
    let (code, idle) = peak_rss(nothing);
    assert_eq!(code, 2, "`trainer export` without arguments is refused");

    let exported = dir.join("exported");
    let mut export = launch(&dir);
    export.arg("export").arg(&checkpoint).arg(&exported);
    let (code, peak) = peak_rss(export);
    assert_eq!(code, 0, "launch export failed");
    let bf16: u64 = std::fs::read_dir(&exported)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".safetensors"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(
        (35 * MIB..50 * MIB).contains(&bf16),
        "a bf16 model of ~20M parameters: {bf16} bytes"
    );
    assert_eq!(
        std::fs::read(exported.join("model.safetensors")).unwrap(),
        std::fs::read(out.join("final/model.safetensors")).unwrap(),
        "the export of the checkpoint is the run's final export"
    );
    let mib = |b: u64| b as f64 / MIB as f64;
    println!(
        "idle {:.1} MiB, export peak {:.1} MiB, bf16 model {:.1} MiB",
        mib(idle),
        mib(peak),
        mib(bf16)
    );
    assert!(
        peak <= idle + bf16 + 64 * MIB,
        "launch export peaked at {:.1} MiB: more than idle {:.1} MiB + the bf16 model {:.1} MiB + 64 MiB",
        mib(peak),
        mib(idle),
        mib(bf16)
    );
}
