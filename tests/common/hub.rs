//! A running `localhub` with two users, `launch` with a clean environment,
//! and raw HTTP: what the Hub tests share.

use super::{bin, text, TempDir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The token of user `alice` on every test Hub.
pub const TOKEN: &str = "hf_TestSecretToken0123456789abcdef";
/// A read-only token of user `rita`.
pub const READ_TOKEN: &str = "hf_ReadOnlySecret0123456789abcdef";

/// A `localhub` process with users alice (write, member of `acme`) and rita (read only).
pub struct LocalHub {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where it stores repositories.
    pub dir: TempDir,
    child: Child,
}

impl LocalHub {
    /// Starts a Hub; `extra` adds options such as `--fault drop:upload:2`.
    pub fn start(extra: &[&str]) -> LocalHub {
        let dir = TempDir::new("localhub");
        let alice = format!("alice={TOKEN}");
        let rita = format!("rita={READ_TOKEN}");
        let root = dir.join("store");
        let log = dir.join("requests.log");
        let mut args: Vec<&str> = vec![
            "--root",
            root.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--token",
            &alice,
            "--read-token",
            &rita,
            "--org",
            "acme=alice",
            // Small files go multipart, so tests see both transfers.
            "--multipart-threshold",
            "2000000",
            "--chunk-size",
            "700000",
        ];
        args.extend_from_slice(extra);
        let mut child = Command::new(bin("localhub"))
            .args(&args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start localhub");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://"), "localhub said {line:?}");
        LocalHub {
            url: line.trim().to_string(),
            dir,
            child,
        }
    }

    /// Files of `revision` of `repo` as stored.
    pub fn tree(&self, repo: &str, revision: &str) -> PathBuf {
        self.dir
            .join("store/repos")
            .join(repo)
            .join("tree")
            .join(revision)
    }

    /// The request log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("requests.log")).unwrap_or_default()
    }

    /// Request log lines after the first `skip` lines.
    pub fn log_since(&self, skip: usize) -> Vec<String> {
        self.log().lines().skip(skip).map(str::to_string).collect()
    }
}

impl Drop for LocalHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `launch ARGS` with a clean environment: a fresh HOME, no HF_* variables
/// but those in `env`, fast retries.
pub fn launch_clean(args: &[&str], env: &[(&str, &str)], home: &Path) -> Output {
    launch_clean_command(args, env, home)
        .output()
        .expect("run launch")
}

/// The command [`launch_clean`] runs, to spawn it.
pub fn launch_clean_command(args: &[&str], env: &[(&str, &str)], home: &Path) -> Command {
    let mut cmd = Command::new(bin("launch"));
    cmd.args(args).current_dir(home);
    for (k, _) in std::env::vars() {
        if k.starts_with("HF_")
            || k.starts_with("HUGGING")
            || k == "XDG_CACHE_HOME"
            || k.starts_with("FERROSPEED_")
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home).env("FERROSPEED_HUB_BACKOFF_MS", "50");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// `launch check ARGS` and `launch 1 ARGS` each exit 2 with one error
/// line holding `part`, before any rank starts.
pub fn refused_before_start(home: &Path, args: &[&str], env: &[(&str, &str)], part: &str) {
    for first in ["check", "1"] {
        let all_args: Vec<&str> = std::iter::once(first).chain(args.iter().copied()).collect();
        let out = launch_clean(&all_args, env, home);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{all_args:?}: {all}");
        let errors: Vec<&str> = all.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(errors.len(), 1, "{all}");
        assert!(
            errors[0].contains(part),
            "{all_args:?}: expected {part:?} in {all}"
        );
        assert!(
            !all.contains("rank(s) on this node"),
            "nothing may start: {all}"
        );
    }
}

/// One raw HTTP/1.1 request; returns (status, headers lower-cased, body).
pub fn http(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let url = url.strip_prefix("http://").unwrap_or(url);
    let host = url.split('/').next().unwrap();
    let path = if path.starts_with("http://") {
        let rest = path.strip_prefix("http://").unwrap();
        &rest[rest.find('/').unwrap()..]
    } else {
        path
    };
    let mut s = TcpStream::connect(host).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, all[split + 4..].to_vec())
}
