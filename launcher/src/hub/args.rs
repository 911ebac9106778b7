//! Arguments of `launch push DIR --repo NS/NAME [...]`.

use super::push::PushOptions;
use std::path::PathBuf;

/// What `launch push` reads; its help is `launch push --help`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "launch push DIR --repo [NAMESPACE/]NAME [OPTIONS]")]
pub struct PushArgs {
    /// The folder to push
    #[arg(value_name = "DIR")]
    folder: PathBuf,
    /// The repository: `name` or `namespace/name`
    #[arg(long, visible_alias = "repo-id", value_name = "ID")]
    repo: String,
    /// Namespace for a `--repo` without one (default: the token's user)
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// Hub token (default: HF_TOKEN, then $HF_TOKEN_PATH, $HF_HOME/token, ~/.cache/huggingface/token)
    #[arg(long, value_name = "T")]
    token: Option<String>,
    /// Create the repository as public (default: private)
    #[arg(long, overrides_with = "private")]
    public: bool,
    /// Create the repository as private (the default)
    #[arg(long, overrides_with = "public")]
    private: bool,
    /// Branch to commit to (default main; created if missing)
    #[arg(long, value_name = "BRANCH")]
    revision: Option<String>,
    /// Commit summary
    #[arg(short = 'm', long, value_name = "M")]
    commit_message: Option<String>,
    /// Also upload files that symlinks in DIR point at outside DIR (skipped with a warning otherwise; symlinked folders are never entered)
    #[arg(long)]
    follow_links: bool,
}

impl From<PushArgs> for PushOptions {
    fn from(a: PushArgs) -> PushOptions {
        PushOptions {
            folder: a.folder,
            repo_id: a.repo,
            namespace: a.namespace,
            token: a.token,
            private: !a.public,
            revision: a.revision,
            commit_message: a.commit_message,
            follow_links: a.follow_links,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Push {
        #[command(flatten)]
        args: PushArgs,
    }

    fn parse(a: &[&str]) -> Result<PushOptions, clap::Error> {
        Push::try_parse_from(std::iter::once("push").chain(a.iter().copied()))
            .map(|p| p.args.into())
    }

    #[test]
    fn parses_all_options() {
        let o = parse(&[
            "out/final",
            "--repo",
            "org/m",
            "--private",
            "--revision",
            "v1",
            "-m",
            "msg",
        ])
        .unwrap();
        assert_eq!(o.folder, PathBuf::from("out/final"));
        assert_eq!(o.repo_id, "org/m");
        assert!(o.private);
        assert_eq!(o.revision.as_deref(), Some("v1"));
        assert_eq!(o.commit_message.as_deref(), Some("msg"));
        assert!(parse(&["dir"]).is_err());
        assert!(!parse(&["d", "--repo", "m", "--public"]).unwrap().private);
        assert!(parse(&["d", "--repo", "m"]).unwrap().private);
        assert!(
            parse(&["d", "--repo", "m", "--public", "--private"])
                .unwrap()
                .private
        );
        assert!(
            !parse(&["d", "--repo-id", "m", "--private", "--public"])
                .unwrap()
                .private
        );
    }
}
