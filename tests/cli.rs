//! The command line as users of Rust tools expect it: `--help` on every
//! command, `--version`, suggestions for mistyped flags, and completion
//! scripts that a shell loads.

mod common;
use common::*;
use std::process::Output;

/// `launch args...` in a scratch folder.
fn run(name: &str, args: &[&str]) -> Output {
    launch(&scratch(name)).args(args).output().unwrap()
}

/// A usage mistake: exit 2, one `launch: error:` line on stderr, nothing on
/// stdout; returns the line.
fn mistake(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("launch: error: "), "{err}");
    assert!(out.stdout.is_empty(), "{}", text(out));
    err
}

#[test]
fn every_command_answers_help_with_its_options() {
    let top = [
        "check",
        "export",
        "push",
        "status",
        "plot",
        "completions",
        "--set",
        "--nnodes",
        "--node-rank",
        "--master-addr",
        "--master-port",
        "--run-id",
        "--run-name",
        "--max-restarts",
        "FERROSPEED_RUN_ID",
        "rank-<r>.log",
    ];
    let cases: [(&[&str], &[&str]); 10] = [
        (&["--help"], &top),
        (&["help"], &top),
        (&[], &top),
        (&["-h"], &top[..12]),
        (
            &["check", "--help"],
            &[
                "--nproc",
                "-n",
                "--set",
                "--device-memory",
                "--json",
                "run nothing",
            ],
        ),
        (
            &["export", "--help"],
            &[
                "CHECKPOINT",
                "OUT_DIR",
                "--overwrite",
                "--dtype",
                "--max-shard-size",
                "never other files",
            ],
        ),
        (
            &["push", "--help"],
            &[
                "--repo",
                "--namespace",
                "--token",
                "--public",
                "--private",
                "--revision",
                "--commit-message",
                "--follow-links",
                "HF_HUB_OFFLINE=1",
            ],
        ),
        (&["status", "--help"], &["OUTPUT_DIR", "ledger"]),
        (
            &["plot", "--help"],
            &["OUTPUT_DIR", "--out", "metrics.jsonl"],
        ),
        (&["completions", "--help"], &["bash", "zsh", "fish"]),
    ];
    for (args, names) in cases {
        let out = run("help", args);
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out));
        for name in names {
            assert!(said.contains(name), "{args:?} names {name}: {said}");
        }
    }
    let out = run("help-check", &["help", "check"]);
    assert!(out.status.success() && text(&out).contains("--device-memory"));
}

#[test]
fn version_names_the_libtorch_the_trainer_needs() {
    let bootstrap = std::fs::read_to_string(repo_root().join("scripts/bootstrap")).unwrap();
    let torch = bootstrap
        .lines()
        .find_map(|l| l.strip_prefix("TORCH_VERSION="))
        .unwrap();
    let out = run("version", &["--version"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        said.starts_with(&format!("launch {}", env!("CARGO_PKG_VERSION"))),
        "{said}"
    );
    assert!(said.contains(&format!("libtorch {torch}")), "{said}");
}

#[test]
fn a_mistyped_flag_gets_a_suggestion_and_starts_nothing() {
    let dir = scratch("sett");
    std::fs::write(dir.join("cfg.yaml"), "run_name: x\n").unwrap();
    let out = launch(&dir)
        .args(["1", "cfg.yaml", "--sett", "x=1"])
        .output()
        .unwrap();
    let err = mistake(&out);
    assert!(err.contains("'--sett'") && err.contains("'--set'"), "{err}");
    assert!(!dir.join("logs").exists(), "nothing is spawned: {err}");
    for (args, want) in [
        (&["check", "cfg.yaml", "--jsn"][..], "'--json'"),
        (&["push", "d", "--repo", "m", "--publik"], "'--public'"),
        (&["export", "ck", "out", "--overwrit"], "'--overwrite'"),
        (&["plot", "out", "--ou", "x"], "'--out'"),
        (&["chek", "cfg.yaml"], "did you mean `check`?"),
        (
            &["--set", "a=1", "check", "cfg.yaml"],
            "`check` is a command: it comes first",
        ),
        (
            &["2", "cfg.yaml", "--nnodes", "x"],
            "--nnodes: must be a whole number, got \"x\"",
        ),
    ] {
        let err = mistake(&run("typo", args));
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn the_bash_completion_script_completes_commands() {
    let script = format!(
        "source <('{}' completions bash) && complete -p launch && \
         COMP_WORDS=(launch ch) && COMP_CWORD=1 && _launch launch ch launch && \
         echo \"words: ${{COMPREPLY[*]}}\"",
        bin("launch").display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("-F _launch launch"), "{said}");
    assert!(said.contains("words: check\n"), "{said}");
    for (shell, want) in [("zsh", "#compdef launch"), ("fish", "complete -c launch")] {
        let out = run("completions", &["completions", shell]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(want),
            "{shell}"
        );
    }
    mistake(&run("completions", &["completions", "tcsh"]));
}
