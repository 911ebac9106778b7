//! A YAML file read and parsed once. `launch N FILE` asks first whether
//! FILE is a pipeline, then loads it as one or as a run config: both look
//! at the same text and the same tree, and a file that cannot be read or
//! parsed is reported by whichever loads it, in its own words.

use serde::de::DeserializeOwned;
use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// The text of a YAML file and its tree, or why there is none.
pub struct YamlFile {
    path: PathBuf,
    read: std::io::Result<Parsed>,
}

/// The text of a file that was read, and its tree when it parses.
struct Parsed {
    text: String,
    tree: Result<Value, serde_yaml::Error>,
}

impl YamlFile {
    /// Reads and parses `path`; never fails here: what went wrong is
    /// reported when the file is loaded.
    pub fn read(path: &Path) -> YamlFile {
        let read = std::fs::read_to_string(path).map(|text| Parsed {
            tree: serde_yaml::from_str(&text),
            text,
        });
        YamlFile {
            path: path.to_path_buf(),
            read,
        }
    }

    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is a pipeline (it has a top-level `stages:`).
    pub fn is_pipeline(&self) -> bool {
        self.tree().is_some_and(|t| t.get("stages").is_some())
    }

    /// The file's text and its tree (or the parse error), or the error
    /// reading it.
    pub(crate) fn contents(&self) -> Result<(&str, YamlTree<'_>), &std::io::Error> {
        self.read
            .as_ref()
            .map(|p| (p.text.as_str(), p.tree.as_ref()))
    }

    /// The file's tree, when it was read and parses.
    fn tree(&self) -> Option<&Value> {
        self.read.as_ref().ok().and_then(|p| p.tree.as_ref().ok())
    }
}

/// A parsed tree, or why the text does not parse.
pub(crate) type YamlTree<'a> = Result<&'a Value, &'a serde_yaml::Error>;

/// `T` from a tree parsed from `text`. A tree that does not fit is parsed
/// again from the text, only for the error: it carries the line and column.
pub(crate) fn typed<T: DeserializeOwned>(tree: &Value, text: &str) -> Result<T, serde_yaml::Error> {
    match T::deserialize(tree) {
        Ok(value) => Ok(value),
        Err(_) => serde_yaml::from_str(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_that_does_not_fit_is_reported_at_its_line_and_column() {
        let text = "run_name: t\ntrain:\n  micro_batch_sise: 2\n";
        let tree: Value = serde_yaml::from_str(text).unwrap();
        let e = typed::<crate::Config>(&tree, text).unwrap_err();
        assert_eq!(e.location().map(|l| l.line()), Some(3), "{e}");
    }

    #[test]
    fn a_file_is_a_pipeline_only_when_it_reads_parses_and_has_stages() {
        let dir = std::env::temp_dir().join(format!("yaml-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text).unwrap();
            YamlFile::read(&dir.join(name))
        };
        assert!(file("p.yaml", "stages: []\n").is_pipeline());
        assert!(!file("c.yaml", "run_name: t\n").is_pipeline());
        assert!(!file("bad.yaml", "stages: [\n").is_pipeline());
        assert!(!YamlFile::read(&dir.join("missing.yaml")).is_pipeline());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
