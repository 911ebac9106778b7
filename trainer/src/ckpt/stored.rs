//! A checkpoint's weights read straight from its rank files, one unit at a
//! time, for the offline export. Each file's metadata says which range of
//! every unit it holds (`unit.<u>.start`, `unit.<u>.end`, see
//! [`super::save`]), so a unit is put together from the files that cover
//! it, whatever world size wrote them: no engine, no optimizer or gradient
//! state, and the pages read are let go after each unit.

use super::save::rank_file;
use crate::export::UnitWeights;
use crate::model::{trained_units, units, LlamaConfig, ParamSource, ParamSpec, UnitSpec};
use crate::st::Mapped;
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The fp32 master weights of a checkpoint, by unit. A LoRA run's
/// checkpoint holds its trained parameters only; the rest of the model
/// comes from its base, when one is given ([`StoredWeights::with_base`]).
pub struct StoredWeights {
    dir: PathBuf,
    specs: Vec<UnitSpec>,
    /// The units with the parameters the checkpoint holds.
    trained: Vec<UnitSpec>,
    /// Where the parameters the checkpoint does not hold come from.
    base: Option<Box<dyn ParamSource>>,
    files: Vec<Mapped>,
    /// Per unit, the range `[start, end)` each file holds.
    ranges: Vec<Vec<(usize, usize)>>,
}

/// The range of unit `u` that `file` holds, from its metadata.
fn range(file: &Mapped, u: usize) -> Result<(usize, usize)> {
    let get = |end: &str| {
        let key = format!("unit.{u}.{end}");
        let value = file.metadata(&key).and_then(|v| v.parse::<usize>().ok());
        value.with_context(|| {
            format!(
                "{}: its metadata has no valid `{key}`",
                file.path().display()
            )
        })
    };
    Ok((get("start")?, get("end")?))
}

/// The ranges of unit `u` (of `numel` elements) in `files`, which must
/// cover it exactly once, in rank order.
fn coverage(files: &[Mapped], u: usize, numel: usize) -> Result<Vec<(usize, usize)>> {
    let mut at = 0;
    let mut ranges = Vec::with_capacity(files.len());
    for file in files {
        let (start, end) = range(file, u)?;
        let held = file.len(&format!("u{u}.master"))?;
        ensure!(
            start == at && end >= start && held == end - start,
            "{}: unit {u} is said to hold [{start}, {end}) in {held} elements, where the range should start at {at}",
            file.path().display()
        );
        ranges.push((start, end));
        at = end;
    }
    if at != numel {
        bail!("the rank files hold {at} of the {numel} elements of unit {u}");
    }
    Ok(ranges)
}

impl StoredWeights {
    /// Opens the `world` rank files of checkpoint `dir` of the model `cfg`
    /// and checks that they hold every unit whole.
    pub fn open(dir: &Path, cfg: &LlamaConfig, world: usize) -> Result<StoredWeights> {
        let specs = units(cfg);
        let trained = trained_units(cfg);
        let files = (0..world)
            .map(|r| Mapped::open(&dir.join(rank_file(r))))
            .collect::<Result<Vec<_>>>()?;
        let ranges = trained
            .iter()
            .map(|s| coverage(&files, s.index, s.numel() as usize))
            .collect::<Result<_>>()
            .with_context(|| format!("{} does not hold the model", dir.display()))?;
        Ok(StoredWeights {
            dir: dir.to_path_buf(),
            specs,
            trained,
            base: None,
            files,
            ranges,
        })
    }

    /// The same, with the parameters the checkpoint does not hold (a LoRA
    /// run's base) read from `base`.
    pub fn with_base(self, base: Box<dyn ParamSource>) -> StoredWeights {
        StoredWeights {
            base: Some(base),
            ..self
        }
    }

    /// Unit `u`'s parameters the checkpoint does not hold, from the base.
    fn frozen(&self, u: usize) -> Result<Vec<(String, Tensor)>> {
        let held = |name: &str| self.trained[u].params.iter().any(|p| p.name == name);
        let frozen = self.specs[u].keep(|name| !held(name));
        if frozen.params.is_empty() {
            return Ok(Vec::new());
        }
        let Some(base) = &self.base else {
            bail!(
                "{} holds the adapters of a LoRA run, not its base model",
                self.dir.display()
            );
        };
        let read = |p: &ParamSpec| {
            let t = base.read_range(p, 0, p.numel())?;
            Ok((
                p.name.clone(),
                t.to_kind(Kind::Float).view(p.shape.as_slice()),
            ))
        };
        frozen.params.iter().map(read).collect()
    }
}

impl UnitWeights for StoredWeights {
    fn rank(&self) -> usize {
        0
    }

    fn parameters(&self) -> Vec<(String, Vec<i64>)> {
        crate::model::shapes(&self.specs)
    }

    fn units(&self) -> usize {
        self.specs.len()
    }

    /// Unit `u` whole: what the checkpoint holds, the rest from the base.
    fn gather_unit(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        let mut all = self.frozen(u)?;
        all.extend(self.gather_trained(u)?);
        let order = self.specs[u].params.iter();
        let mut in_order = Vec::with_capacity(all.len());
        for p in order {
            let at = all.iter().position(|(n, _)| *n == p.name);
            in_order.push(all.swap_remove(at.context("a parameter of the unit")?));
        }
        Ok(in_order)
    }

    fn trained_parameters(&self) -> Vec<(String, Vec<i64>)> {
        crate::model::shapes(&self.trained)
    }

    /// Reads unit `u` from the files that hold it; refuses non-finite weights.
    fn gather_trained(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        let spec = &self.trained[u];
        let flat = Tensor::empty([spec.numel()], (Kind::Float, Device::Cpu));
        let name = format!("u{u}.master");
        for (file, &(start, end)) in self.files.iter().zip(&self.ranges[u]) {
            let part = flat.narrow(0, start as i64, (end - start) as i64);
            file.read_into(&name, 0, &part)?;
            file.release();
        }
        if !bool::try_from(flat.isfinite().all())? {
            bail!(
                "{} is damaged: its weights are not finite (unit {u})",
                self.dir.display()
            );
        }
        spec.named(&flat)
    }

    fn barrier(&mut self) -> Result<()> {
        Ok(())
    }
}
