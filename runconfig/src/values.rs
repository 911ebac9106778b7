//! Settings that YAML spells as words or sizes, parsed into typed values
//! when the file is loaded: the export dtype, the resume choice, the
//! optimizer and byte sizes such as "5GB". Each serializes back to the
//! spelling it was read from, so a resolved config reads as written.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Reads a setting that is one of a few words or else a path, and writes
/// it back as it was spelled.
macro_rules! words_or_path {
    ($ty:ident { $($word:literal => $variant:ident),+ ; $path:ident }) => {
        impl From<String> for $ty {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $($word => Self::$variant,)+
                    _ => Self::$path(PathBuf::from(text)),
                }
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                match value {
                    $($ty::$variant => $word.into(),)+
                    $ty::$path(p) => p.display().to_string(),
                }
            }
        }
    };
}

/// `export.dtype`: the dtype of the exported weights.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExportDtype {
    /// bfloat16, what Hugging Face models ship as.
    #[default]
    Bf16,
    /// float32: the fp32 master weights unrounded.
    F32,
    /// The run's compute dtype (`model.dtype`).
    Compute,
}

impl FromStr for ExportDtype {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "bf16" => Ok(Self::Bf16),
            "f32" => Ok(Self::F32),
            "compute" => Ok(Self::Compute),
            other => Err(format!(
                "the export dtype must be bf16, f32 or compute, got {other:?}"
            )),
        }
    }
}

impl fmt::Display for ExportDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bf16 => "bf16",
            Self::F32 => "f32",
            Self::Compute => "compute",
        })
    }
}

/// `optimizer.kind`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum OptimizerKind {
    /// AdamW with decoupled weight decay, as `torch.optim.AdamW`.
    #[default]
    #[serde(rename = "adamw")]
    AdamW,
}

/// `checkpoint.resume`: where a run starts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Resume {
    /// From the newest complete checkpoint of the output_dir, if any.
    #[default]
    Auto,
    /// From the initial weights, whatever checkpoints exist.
    Never,
    /// From this checkpoint folder.
    Path(PathBuf),
}

words_or_path!(Resume { "auto" => Auto, "never" => Never; Path });

/// `train.activation_checkpointing`: which units the backward pass
/// recomputes from their saved input (re-gathering their parameters) rather
/// than differentiating the graph kept from the forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActivationCheckpointing {
    /// Every unit before the head is recomputed (least memory).
    On,
    /// No unit is recomputed: each keeps its autograd graph and gathered
    /// parameters from forward to backward (fastest, most memory).
    Off,
    /// As few units as the memory plan needs to fit the device's memory;
    /// every unit when that memory is not known.
    #[default]
    Auto,
}

impl Serialize for ActivationCheckpointing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::On => s.serialize_bool(true),
            Self::Off => s.serialize_bool(false),
            Self::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for ActivationCheckpointing {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ActivationCheckpointing;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false or auto")
            }
            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(match on {
                    true => ActivationCheckpointing::On,
                    false => ActivationCheckpointing::Off,
                })
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                match text {
                    "auto" => Ok(ActivationCheckpointing::Auto),
                    "true" => Ok(ActivationCheckpointing::On),
                    "false" => Ok(ActivationCheckpointing::Off),
                    other => Err(E::custom(format!(
                        "must be true, false or auto, got {other:?}"
                    ))),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A number of bytes, written as "5GB", "500MB", "10KiB" or a byte count;
/// it serializes as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteSize {
    /// The size in bytes.
    pub bytes: u64,
    text: String,
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(ByteSize {
            bytes: parse_size(text)?,
            text: text.to_string(),
        })
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.text.parse::<u64>() {
            Ok(n) => s.serialize_u64(n),
            Err(_) => s.serialize_str(&self.text),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size like 5GB, 500MB or a byte count")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize {
                    bytes: n,
                    text: n.to_string(),
                })
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ByteSize, E> {
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Parses a size like "5GB", "500MB", "10KiB" or a byte count.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_uppercase();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 5GB"))?;
    let mult = match unit.trim() {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KIB" => 1024.0,
        "MIB" => 1024.0 * 1024.0,
        "GIB" => 1024.0 * 1024.0 * 1024.0,
        u => {
            return Err(format!(
                "unknown unit {u:?} in {text:?} (use B, KB, MB, GB, KiB, MiB or GiB)"
            ))
        }
    };
    Ok((n * mult) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_sizes_read_back_as_written() {
        let r: Resume = serde_yaml::from_str("never").unwrap();
        assert_eq!(r, Resume::Never);
        let r: Resume = serde_yaml::from_str("out/checkpoints/step-000010").unwrap();
        assert_eq!(r, Resume::Path("out/checkpoints/step-000010".into()));
        assert_eq!(
            serde_yaml::to_string(&r).unwrap(),
            "out/checkpoints/step-000010\n"
        );
        let s: ByteSize = serde_yaml::from_str("5GB").unwrap();
        assert_eq!(s.bytes, 5_000_000_000);
        assert_eq!(serde_yaml::to_string(&s).unwrap(), "5GB\n");
        let s: ByteSize = serde_yaml::from_str("1000").unwrap();
        assert_eq!(
            (s.bytes, serde_yaml::to_string(&s).unwrap()),
            (1000, "1000\n".into())
        );
        for (text, want) in [
            ("true", ActivationCheckpointing::On),
            ("false", ActivationCheckpointing::Off),
            ("auto", ActivationCheckpointing::Auto),
        ] {
            let a: ActivationCheckpointing = serde_yaml::from_str(text).unwrap();
            assert_eq!(a, want);
            assert_eq!(serde_yaml::to_string(&a).unwrap(), format!("{text}\n"));
        }
    }
}
