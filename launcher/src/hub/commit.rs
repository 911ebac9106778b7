//! The commit body: `application/x-ndjson`, one JSON object per line: a
//! `header` (summary, description), then a `file` line (content inline,
//! base64) per regular file and an `lfsFile` line (sha256 oid and size) per
//! LFS file.

use base64::Engine;
use serde_json::json;

/// One file of the commit.
pub enum Change {
    /// A small file sent inline.
    Regular {
        /// Path in the repository.
        path: String,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// A file already uploaded through LFS.
    Lfs {
        /// Path in the repository.
        path: String,
        /// sha256, hex.
        oid: String,
        /// Bytes.
        size: u64,
    },
}

/// Builds the NDJSON body.
pub fn ndjson(summary: &str, description: &str, changes: &[Change]) -> Vec<u8> {
    let mut lines = vec![json!({
        "key": "header",
        "value": { "summary": summary, "description": description },
    })];
    for c in changes {
        lines.push(match c {
            Change::Regular { path, bytes } => json!({
                "key": "file",
                "value": {
                    "content": base64::engine::general_purpose::STANDARD.encode(bytes),
                    "path": path,
                    "encoding": "base64",
                },
            }),
            Change::Lfs { path, oid, size } => json!({
                "key": "lfsFile",
                "value": { "path": path, "algo": "sha256", "oid": oid, "size": size },
            }),
        });
    }
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_first_then_one_line_per_file() {
        let body = ndjson(
            "Upload",
            "",
            &[
                Change::Regular {
                    path: "config.json".into(),
                    bytes: b"{}".to_vec(),
                },
                Change::Lfs {
                    path: "model.safetensors".into(),
                    oid: "ab".repeat(32),
                    size: 7,
                },
            ],
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(body)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["value"]["summary"], "Upload");
        assert_eq!(lines[1]["value"]["content"], "e30=");
        assert_eq!(lines[2]["key"], "lfsFile");
        assert_eq!(lines[2]["value"]["size"], 7);
    }
}
