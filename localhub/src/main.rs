//! `localhub`: a strict stand-in for the Hugging Face Hub's upload API
//! (create repo, preupload, LFS batch with basic and multipart transfers,
//! NDJSON commit) and its download API (info, tree, resolve), storing repositories on disk, with injectable faults.
//! For tests and benchmarks; plain HTTP on 127.0.0.1.

mod api;
mod auth;
mod body;
mod commit;
mod download;
mod faults;
mod hostile;
mod http;
mod lfs;
mod multipart;
mod router;
mod store;

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HELP: &str = "\
localhub: a local Hugging Face Hub (upload and download APIs) for tests and benchmarks.

USAGE:
  localhub --root DIR [OPTIONS]

Prints its URL (http://127.0.0.1:PORT) on the first line of stdout, then serves
until killed. Files of revision REV of NS/NAME are stored byte for byte under
DIR/repos/NS/NAME/tree/REV/.

OPTIONS:
  --port P                   listen port (default 0: any free port)
  --token USER=TOKEN         a user and a write token (repeatable)
  --read-token USER=TOKEN    a read-only token (repeatable)
  --org ORG=USER[:ROLE],...  an organization and its members (repeatable); ROLE:
                             admin, write (default), contributor (may create
                             repositories and write to its own) or read
  --gated REPO=USER,...      serve the files of REPO (NS/NAME or datasets/NS/NAME)
                             only to these users: 401 without a token, 403 to
                             others, with X-Error-Code: GatedRepo (repeatable)
  --fault KIND:ROUTE:COUNT   fail the first COUNT requests of ROUTE (repeatable).
                             KIND: 408, 429, 500..599, drop (close the connection
                             with half the body read), slow (see --slow-ms),
                             stall (a GET answered with half its body, the
                             connection then held for --slow-ms and closed).
                             ROUTE: any, api, whoami, create, branch, preupload,
                             batch, upload, complete, verify, commit, info,
                             tree, resolve, download (LFS object bytes)
  --hostile KIND=VALUE       lie as a hostile Hub would (repeatable): etag=VALUE
                             (the blob name of every file), sha=VALUE (the commit
                             of every repository info), sibling=NAME (one more
                             file in every repository info)
  --retry-after S            Retry-After seconds sent with a 429 (default 1)
  --slow-ms MS               delay of a `slow` fault, hold of a `stall` (default 1000)
  --lfs-threshold BYTES      files this large go through LFS (default 10 MiB)
  --multipart-threshold BYTES  LFS objects this large go multipart (default 64 MiB)
  --chunk-size BYTES         multipart part size (default 16 MiB)
  --log FILE                 append one line per request: METHOD PATH STATUS LENGTH,
                             then the Range asked for, if any, and the fault

Downloads are served as the Hub serves them (repo info, tree listing,
HEAD/GET NS/NAME/resolve/REV/PATH with a redirect for LFS files, Range).
GET /_localhub/requests answers the number of requests served so far.
";

fn main() {
    if let Err(e) = run() {
        eprintln!("localhub: error: {e:#}");
        std::process::exit(2);
    }
}

fn number(v: Option<&String>, flag: &str) -> Result<u64> {
    v.with_context(|| format!("{flag} needs a value"))?
        .parse()
        .with_context(|| format!("{flag} must be a whole number"))
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut root, mut port, mut log) = (None, 0u64, None);
    let (mut tokens, mut read_tokens, mut orgs, mut faults) = (vec![], vec![], vec![], vec![]);
    let (mut gated, mut hostile) = (vec![], vec![]);
    let (mut retry_after, mut slow_ms) = (1, 1000);
    let (mut lfs_threshold, mut multipart, mut chunk) = (10 << 20, 64 << 20, 16 << 20);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut text = || {
            it.next()
                .cloned()
                .with_context(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(());
            }
            "--root" => root = Some(PathBuf::from(text()?)),
            "--log" => log = Some(PathBuf::from(text()?)),
            "--token" => tokens.push(text()?),
            "--read-token" => read_tokens.push(text()?),
            "--org" => orgs.push(text()?),
            "--fault" => faults.push(text()?),
            "--gated" => gated.push(text()?),
            "--hostile" => hostile.push(text()?),
            "--port" => port = number(it.next(), a)?,
            "--retry-after" => retry_after = number(it.next(), a)?,
            "--slow-ms" => slow_ms = number(it.next(), a)?,
            "--lfs-threshold" => lfs_threshold = number(it.next(), a)?,
            "--multipart-threshold" => multipart = number(it.next(), a)?,
            "--chunk-size" => chunk = number(it.next(), a)?,
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    let root = root.context("--root DIR is required (see --help)")?;
    let log = match log {
        Some(p) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .with_context(|| format!("cannot open log {}", p.display()))?,
        )),
        None => None,
    };
    let listener = TcpListener::bind(("127.0.0.1", port as u16)).context("cannot listen")?;
    // LFS bytes come from another origin, as from the Hub's CDN.
    let cdn = TcpListener::bind(("127.0.0.1", 0)).context("cannot listen")?;
    let hub = Arc::new(router::Hub {
        store: store::Store::open(&root)?,
        auth: auth::Auth::new(&tokens, &read_tokens, &orgs, &gated)?,
        lfs: lfs::Lfs::new(multipart, chunk),
        faults: faults::Faults::parse(&faults, retry_after, Duration::from_millis(slow_ms))?,
        hostile: hostile::Hostile::parse(&hostile)?,
        lfs_threshold,
        log,
        requests: Default::default(),
        cdn: format!("http://{}", cdn.local_addr()?),
    });
    let served = Arc::clone(&hub);
    std::thread::spawn(move || accept(cdn, served));
    let mut out = std::io::stdout();
    writeln!(out, "http://{}", listener.local_addr()?)?;
    out.flush()?;
    accept(listener, hub);
    Ok(())
}

/// Serves each connection of `listener` on its own thread.
fn accept(listener: TcpListener, hub: Arc<router::Hub>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let hub = Arc::clone(&hub);
        std::thread::spawn(move || http::serve_connection(stream, &|req| hub.handle(req)));
    }
}
