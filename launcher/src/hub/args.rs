//! Arguments of `launch push DIR --repo NS/NAME [...]`.

use super::push::PushOptions;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// Help for `launch push`.
pub const HELP: &str = "\
launch push: push a folder to the Hugging Face Hub (model repository).

USAGE:
  launch push DIR --repo [NAMESPACE/]NAME [OPTIONS]

OPTIONS:
  --repo ID              the repository: `name` or `namespace/name`
  --namespace NS         namespace for a `--repo` without one (default: the token's user)
  --token T              Hub token (default: HF_TOKEN, then $HF_TOKEN_PATH,
                         $HF_HOME/token, ~/.cache/huggingface/token)
  --public               create the repository as public (default: private)
  --private              create the repository as private (the default)
  --revision BRANCH      branch to commit to (default main; created if missing)
  --commit-message M     commit summary
  --follow-links         also upload files that symlinks in DIR point at outside
                         DIR (skipped with a warning otherwise; symlinked
                         folders are never entered)

The endpoint is $HF_ENDPOINT (default https://huggingface.co); HF_HUB_OFFLINE=1
refuses to push. Files the Hub already has are not uploaded again. Never
uploaded: .git/, .env files, and the files only Ferrospeed reads (.lock,
.launch-secret-*, .ferrospeed-*, finished markers).
";

/// Parses what follows `launch push`; `Ok(None)` means help was asked for.
pub fn parse(args: &[String]) -> Result<Option<PushOptions>> {
    let mut o = PushOptions {
        private: true,
        ..PushOptions::default()
    };
    let (mut folder, mut repo) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("{a} needs a value (see `launch push --help`)"))
        };
        match a.as_str() {
            "-h" | "--help" | "help" => return Ok(None),
            "--repo" | "--repo-id" => repo = Some(value()?),
            "--namespace" => o.namespace = Some(value()?),
            "--token" => o.token = Some(value()?),
            "--private" => o.private = true,
            "--public" => o.private = false,
            "--revision" => o.revision = Some(value()?),
            "--commit-message" | "-m" => o.commit_message = Some(value()?),
            "--follow-links" => o.follow_links = true,
            s if s.starts_with('-') => {
                bail!("unknown option {s} for `launch push` (see `launch push --help`)")
            }
            s if folder.is_none() => folder = Some(PathBuf::from(s)),
            s => bail!("unexpected argument {s:?}: `launch push` takes one folder"),
        }
    }
    o.folder = folder
        .context("`launch push` needs the folder to push: launch push DIR --repo NAMESPACE/NAME")?;
    o.repo_id =
        repo.context("`launch push` needs --repo NAMESPACE/NAME (or NAME with --namespace)")?;
    Ok(Some(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_all_options() {
        let o = parse(&strings(&[
            "out/final",
            "--repo",
            "org/m",
            "--private",
            "--revision",
            "v1",
            "-m",
            "msg",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.folder, PathBuf::from("out/final"));
        assert_eq!(o.repo_id, "org/m");
        assert!(o.private);
        assert_eq!(o.revision.as_deref(), Some("v1"));
        assert_eq!(o.commit_message.as_deref(), Some("msg"));
        assert!(parse(&strings(&["dir"])).is_err());
        let public = parse(&strings(&["d", "--repo", "m", "--public"])).unwrap();
        assert!(!public.unwrap().private);
        assert!(
            parse(&strings(&["d", "--repo", "m"]))
                .unwrap()
                .unwrap()
                .private
        );
        assert!(parse(&strings(&["--help"])).unwrap().is_none());
    }
}
