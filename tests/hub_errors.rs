//! Bad input gives one clear message each, and the token shows nowhere.

mod common;

use common::*;

struct Case {
    hub: LocalHub,
    home: TempDir,
    folder: String,
}

fn case() -> Case {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    make_final(&home.join("final"));
    let folder = home.join("final").to_string_lossy().into_owned();
    Case { hub, home, folder }
}

impl Case {
    /// Runs `launch push FOLDER ARGS` with `env`; returns (success, output).
    fn push(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
        let mut all = vec!["push", self.folder.as_str()];
        all.extend_from_slice(args);
        let mut e = vec![("HF_ENDPOINT", self.hub.url.as_str())];
        e.extend_from_slice(env);
        let out = launch_clean(&all, &e, &self.home.0);
        let t = text(&out);
        for secret in [TOKEN, READ_TOKEN, "hf_WrongToken42"] {
            assert!(!t.contains(secret), "a token leaked into the output:\n{t}");
        }
        (out.status.success(), t)
    }
}

/// The message is one `launch: error:` line.
fn one_error(t: &str) -> &str {
    let errors: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("launch: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "expected one error line:\n{t}");
    assert!(
        !t.contains("panicked") && !t.contains("RUST_BACKTRACE"),
        "{t}"
    );
    errors[0]
}

#[test]
fn no_token_says_where_it_looked() {
    let c = case();
    let (ok, t) = c.push(&["--repo", "acme/m"], &[]);
    assert!(!ok);
    let e = one_error(&t);
    assert!(
        e.contains("no Hugging Face token found")
            && e.contains("HF_TOKEN")
            && e.contains("--token"),
        "{e}"
    );
    assert!(e.contains(".cache/huggingface/token"), "{e}");
    assert!(c.hub.log().is_empty(), "nothing is sent without a token");
}

#[test]
fn token_files_are_found_in_order() {
    let c = case();
    // ~/.cache/huggingface/token
    let default = c.home.join(".cache/huggingface/token");
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::fs::write(&default, format!("{TOKEN}\n")).unwrap();
    let (ok, t) = c.push(&["--repo", "acme/a"], &[]);
    assert!(ok, "{t}");
    // $HF_HOME/token wins over it; a wrong one there shows which file was used.
    let hf_home = c.home.join("hfhome");
    std::fs::create_dir_all(&hf_home).unwrap();
    std::fs::write(hf_home.join("token"), "hf_WrongToken42").unwrap();
    let (ok, t) = c.push(
        &["--repo", "acme/b"],
        &[("HF_HOME", hf_home.to_str().unwrap())],
    );
    assert!(!ok);
    assert!(one_error(&t).contains("hfhome/token"), "{t}");
    // $HF_TOKEN_PATH wins over $HF_HOME; HF_TOKEN over files; --token over all.
    let path = c.home.join("tok");
    std::fs::write(&path, TOKEN).unwrap();
    let (ok, t) = c.push(
        &["--repo", "acme/c"],
        &[
            ("HF_HOME", hf_home.to_str().unwrap()),
            ("HF_TOKEN_PATH", path.to_str().unwrap()),
        ],
    );
    assert!(ok, "{t}");
    let (ok, t) = c.push(
        &["--repo", "acme/d"],
        &[("HF_HOME", hf_home.to_str().unwrap()), ("HF_TOKEN", TOKEN)],
    );
    assert!(ok, "{t}");
    let (ok, t) = c.push(
        &["--repo", "acme/e", "--token", TOKEN],
        &[("HF_TOKEN", "hf_WrongToken42")],
    );
    assert!(ok, "{t}");
    assert_same_files(&c.home.join("final"), &c.hub.tree("acme/e", "main"));
}

#[test]
fn invalid_repo_ids_are_refused_before_any_request() {
    let c = case();
    for (id, why) in [
        ("a/b/c", "at most one '/'"),
        ("acme/bad--name", "'--' and '..'"),
        ("acme/-x", "cannot start or end"),
        ("acme/x.git", ".git"),
        ("acme/spaced name", "only letters"),
    ] {
        let (ok, t) = c.push(&["--repo", id], &[("HF_TOKEN", TOKEN)]);
        assert!(!ok);
        let e = one_error(&t);
        assert!(
            e.contains("invalid repo id") && e.contains(why),
            "{id}: {e}"
        );
    }
    let long = format!("acme/{}", "x".repeat(97));
    let (ok, t) = c.push(&["--repo", &long], &[("HF_TOKEN", TOKEN)]);
    assert!(!ok && one_error(&t).contains("96"), "{t}");
    assert!(
        c.hub.log().is_empty(),
        "nothing is sent for an invalid id:\n{}",
        c.hub.log()
    );
}

#[test]
fn unauthorized_and_forbidden_are_explained() {
    let c = case();
    let (ok, t) = c.push(&["--repo", "acme/m"], &[("HF_TOKEN", "hf_WrongToken42")]);
    assert!(!ok);
    let e = one_error(&t);
    assert!(
        e.contains("401") && e.contains("rejected the token from HF_TOKEN"),
        "{e}"
    );

    let (ok, t) = c.push(&["--repo", "bob/m"], &[("HF_TOKEN", TOKEN)]);
    assert!(!ok);
    let e = one_error(&t);
    assert!(
        e.contains("403") && e.contains("may not write to bob/m") && e.contains("namespace bob"),
        "{e}"
    );

    let (ok, t) = c.push(&["--repo", "rita/m"], &[("HF_TOKEN", READ_TOKEN)]);
    assert!(!ok);
    assert!(one_error(&t).contains("403"), "{t}");
    // The Hub's own log never sees the token in a URL either.
    assert!(!c.hub.log().contains(TOKEN) && !c.hub.log().contains(READ_TOKEN));
}

#[test]
fn offline_mode_refuses_to_push() {
    let c = case();
    let (ok, t) = c.push(
        &["--repo", "acme/m"],
        &[("HF_TOKEN", TOKEN), ("HF_HUB_OFFLINE", "1")],
    );
    assert!(!ok);
    let e = one_error(&t);
    assert!(
        e.contains("HF_HUB_OFFLINE") && e.contains("launch push"),
        "{e}"
    );
    assert!(c.hub.log().is_empty());
}

#[test]
fn missing_folder_and_missing_repo_are_usage_errors() {
    let c = case();
    let out = launch_clean(
        &["push", "no/such/dir", "--repo", "acme/m"],
        &[("HF_TOKEN", TOKEN)],
        &c.home.0,
    );
    assert!(!out.status.success());
    assert!(
        one_error(&text(&out)).contains("is not a folder"),
        "{}",
        text(&out)
    );
    let out = launch_clean(&["push", &c.folder], &[("HF_TOKEN", TOKEN)], &c.home.0);
    assert!(one_error(&text(&out)).contains("--repo"), "{}", text(&out));
}
