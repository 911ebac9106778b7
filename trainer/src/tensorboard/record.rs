//! TFRecord framing: `len` (u64 LE), masked CRC-32C of `len`, the data,
//! masked CRC-32C of the data; and reading back the steps a folder's event
//! files already hold.

use super::proto::{Event, What};
use anyhow::{Context, Result};
use prost::Message;
use std::collections::HashMap;
use std::path::Path;

/// CRC-32C masked as TFRecord does, so that a CRC of CRCs stays distinct.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// `data` framed as one record.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// The records of `bytes` whose checksums hold; stops at a torn or corrupt
/// record (a run killed while writing leaves one at the end).
pub fn records(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 12 {
        let (len, crc) = (&rest[..8], &rest[8..12]);
        if masked_crc(len).to_le_bytes() != crc {
            break;
        }
        let n = u64::from_le_bytes(len.try_into().unwrap_or_default()) as usize;
        if rest.len() < 16 + n {
            break;
        }
        let data = &rest[12..12 + n];
        if masked_crc(data).to_le_bytes() != rest[12 + n..16 + n] {
            break;
        }
        out.push(data);
        rest = &rest[16 + n..];
    }
    out
}

/// For each tag, the last step written by the event files in `dir`.
pub fn last_steps(dir: &Path) -> Result<HashMap<String, i64>> {
    let mut last = HashMap::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().contains("tfevents") {
            continue;
        }
        let path = entry.path();
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        for data in records(&bytes) {
            let Ok(Event {
                step,
                what: Some(What::Summary(s)),
                ..
            }) = Event::decode(data)
            else {
                continue;
            };
            for v in s.value {
                let seen = last.entry(v.tag).or_insert(step);
                *seen = (*seen).max(step);
            }
        }
    }
    Ok(last)
}
