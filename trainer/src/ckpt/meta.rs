//! A checkpoint's `meta.json` and the offsets its rank files record, checked
//! before anything they say is used: a hand-edited or damaged value (a world
//! size of 1e12, a step of 2^63, a range past the end of a tensor) makes the
//! checkpoint damaged, so that resume falls back to the previous one instead
//! of looping over absent ranks or reporting a run that never trained.

use super::save::rank_file;
use crate::st::Mapped;
use runconfig::contracts::checkpoint::META;
use serde_json::Value;
use std::path::Path;

/// The largest step a checkpoint may record: counters are exact in f64 up
/// to 2^53, and no run takes that many optimizer steps.
pub const MAX_STEP: u64 = 1 << 53;

/// The checkpoint's `meta.json`, or why it cannot be used (the message
/// names the file and the field).
pub(super) fn read_meta(dir: &Path) -> Result<Value, String> {
    let text = match std::fs::read_to_string(dir.join(META)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{META} is missing"))
        }
        Err(e) => return Err(format!("{META} cannot be read ({e})")),
        Ok(text) => text,
    };
    let meta: Value =
        serde_json::from_str(&text).map_err(|e| format!("{META} is not valid JSON ({e})"))?;
    for key in ["step", "world_size", "files", "fingerprint"] {
        if meta.get(key).is_none() {
            return Err(format!("{META} has no `{key}`"));
        }
    }
    check_step(dir, &meta["step"])?;
    check_world(dir, &meta["world_size"])?;
    Ok(meta)
}

/// `step` is a whole number no larger than [`MAX_STEP`] and, in a folder
/// named `step-N`, equal to N.
fn check_step(dir: &Path, step: &Value) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{META}: `step` is {step}, {why}"));
    let Some(n) = step.as_u64() else {
        return bad("not a whole number");
    };
    if n > MAX_STEP {
        return bad("beyond 2^53");
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let named = name.as_deref().and_then(|n| n.strip_prefix("step-"));
    match named.and_then(|s| s.parse::<u64>().ok()) {
        Some(folder) if folder != n => bad(&format!("but the folder says step {folder}")),
        _ => Ok(()),
    }
}

/// `world_size` is at least 1 and no more than the rank files present.
fn check_world(dir: &Path, world: &Value) -> Result<(), String> {
    let present = rank_files_present(dir);
    match world.as_u64() {
        Some(w) if w >= 1 && w <= present => Ok(()),
        Some(0) => Err(format!("{META}: `world_size` is 0")),
        Some(w) => Err(format!(
            "{META}: `world_size` is {w}, but the folder holds {present} rank file(s)"
        )),
        None => Err(format!(
            "{META}: `world_size` is {world}, not a whole number"
        )),
    }
}

/// How many `rank-NNNNN.safetensors` files of a contiguous run from rank 0
/// the folder holds (bounded by the folder's size, never by a recorded value).
fn rank_files_present(dir: &Path) -> u64 {
    let names: std::collections::HashSet<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    (0..names.len())
        .take_while(|&r| names.contains(&rank_file(r)))
        .count() as u64
}

/// Checks that old rank `r`'s file records, for every unit, the range
/// `expected[u]` that rank owned and holds exactly that many master weights,
/// so that every read of it stays within its tensors.
pub(super) fn check_ranges(
    file: &Mapped,
    r: usize,
    expected: &[(usize, usize)],
) -> Result<(), String> {
    let name = rank_file(r);
    for (u, &(start, end)) in expected.iter().enumerate() {
        for (key, want) in [
            (format!("unit.{u}.start"), start),
            (format!("unit.{u}.end"), end),
        ] {
            let got = file.metadata(&key).and_then(|v| v.parse::<usize>().ok());
            if got != Some(want) {
                let got = file.metadata(&key).unwrap_or("missing");
                return Err(format!(
                    "{name}: `{key}` is {got}, where the model needs {want}"
                ));
            }
        }
        let held = file
            .len(&format!("u{u}.master"))
            .map_err(|e| e.to_string())?;
        if held != end - start {
            return Err(format!(
                "{name}: `u{u}.master` holds {held} elements, where its range [{start}, {end}) needs {}",
                end - start
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn folder(name: &str, ranks: usize) -> std::path::PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("meta-{name}-{}", std::process::id()))
            .join("step-000004");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for r in 0..ranks {
            std::fs::write(dir.join(rank_file(r)), b"x").unwrap();
        }
        dir
    }

    #[test]
    fn a_world_size_beyond_the_rank_files_present_is_named() {
        let dir = folder("world", 2);
        assert!(check_world(&dir, &json!(2)).is_ok());
        let e = check_world(&dir, &json!(1_000_000_000_000u64)).unwrap_err();
        assert!(
            e.contains("`world_size` is 1000000000000, but the folder holds 2"),
            "{e}"
        );
        assert!(check_world(&dir, &json!(0)).is_err());
        assert!(check_world(&dir, &json!(1e12)).is_err());
    }

    #[test]
    fn a_step_beyond_2_pow_53_or_not_the_folders_is_named() {
        let dir = folder("step", 1);
        assert!(check_step(&dir, &json!(4)).is_ok());
        let e = check_step(&dir, &json!(1u64 << 63)).unwrap_err();
        assert!(
            e.contains("`step` is 9223372036854775808, beyond 2^53"),
            "{e}"
        );
        let e = check_step(&dir, &json!(3)).unwrap_err();
        assert!(e.contains("but the folder says step 4"), "{e}");
        assert!(check_step(&dir, &json!(-1)).is_err());
    }
}
