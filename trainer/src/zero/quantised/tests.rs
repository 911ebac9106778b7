//! A unit whose matrix is quantised in several chunks, and whose size is
//! odd, holds what `quant::nf4` makes of the whole matrix at once.

use super::{Nf4Shard, CHUNK};
use crate::comm::CpuComm;
use crate::model::{Init, ParamSource, ParamSpec, UnitKind, UnitSpec};
use crate::quant::nf4;
use anyhow::Result;
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

/// Parameters by name, read by range.
struct Values(HashMap<String, Tensor>);

impl ParamSource for Values {
    fn read_range(&self, param: &ParamSpec, start: i64, len: i64) -> Result<Tensor> {
        Ok(self.0[&param.name].reshape([-1]).narrow(0, start, len))
    }
}

fn param(name: &str, shape: &[i64]) -> ParamSpec {
    let (name, shape) = (name.to_string(), shape.to_vec());
    let init = Init::Normal;
    ParamSpec { name, shape, init }
}

#[test]
fn a_matrix_quantised_in_chunks_equals_one_quantised_whole() {
    let rows = ((CHUNK / 999 + 2) | 1) as i64;
    let params = vec![
        param("model.layers.0.input_layernorm.weight", &[999]),
        param("model.layers.0.mlp.down_proj.weight", &[rows, 999]),
        param("model.layers.0.self_attn.q_proj.bias", &[7]),
        param("model.layers.0.self_attn.o_proj.weight", &[3, 5]),
    ];
    assert!(params[1].numel() as usize > CHUNK && params[1].numel() % 2 == 1);
    tch::manual_seed(5);
    let values: HashMap<String, Tensor> = params
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                Tensor::randn(p.shape.as_slice(), (Kind::Float, Device::Cpu)),
            )
        })
        .collect();
    let unit = UnitSpec {
        index: 1,
        kind: UnitKind::Block(0),
        params,
        uses_embedding: false,
    };
    let mut comm = CpuComm::single();
    let on = (Kind::BFloat16, Device::Cpu);
    let source = Values(values);
    let shard = Nf4Shard::load(&unit, &mut comm, &source, on).unwrap();
    let got = shard.unpack(&shard.bytes()).unwrap();
    for (p, got) in unit.params.iter().zip(got) {
        let value = source.0[&p.name].to_kind(Kind::BFloat16);
        let want = match p.shape.len() {
            2 => {
                nf4::dequantize(&nf4::quantize(&value, 64, true).unwrap(), Kind::BFloat16).unwrap()
            }
            _ => value,
        };
        assert!(got.equal(&want), "{}", p.name);
    }
}
