//! A step of a vector in parts gives the numbers of a step of the whole.

use super::*;
use tch::{Device, Kind, Tensor};

/// Parameters and state after `steps` steps of a 1024-element vector,
/// updated whole or as the parts `[0, 256)`, `[256, 768)`, `[768, 1024)`.
fn train(bits: u32, parts: bool) -> (Vec<f32>, Vec<Vec<u8>>) {
    let cfg = OptimizerConfig {
        bits,
        min_8bit_size: 0,
        weight_decay: 0.1,
        ..OptimizerConfig::default()
    };
    let n = 1024;
    // Decayed ranges that cross the parts' edges.
    let decay = DecayMask::from_ranges([(100, 300), (700, 900)]);
    let mut opt = optimizer(&cfg, bits == 8, n, Device::Cpu, decay);
    let mut p = Tensor::randn([n as i64], (Kind::Float, Device::Cpu));
    for t in 1..=3 {
        let g = Tensor::randn([n as i64], (Kind::Float, Device::Cpu));
        match parts {
            false => opt.step(&mut p, &g, 1e-2, t),
            true => {
                for (a, len) in [(0, 256), (256, 512), (768, 256)] {
                    let mut part = p.narrow(0, a, len);
                    opt.step_at(a as usize, &mut part, &g.narrow(0, a, len), 1e-2, t);
                }
            }
        }
    }
    let bytes = |t: &Tensor| {
        let t = t.contiguous();
        let mut out = vec![0u8; t.numel() * t.kind().elt_size_in_bytes()];
        t.copy_data_u8(&mut out, t.numel());
        out
    };
    let state = opt.state().iter().map(|s| bytes(&s.tensor)).collect();
    (Vec::<f32>::try_from(&p).unwrap(), state)
}

#[test]
fn a_step_in_parts_equals_a_step_of_the_whole() {
    for bits in [32, 8] {
        tch::manual_seed(3);
        let whole = train(bits, false);
        tch::manual_seed(3);
        let parts = train(bits, true);
        let same = whole
            .0
            .iter()
            .zip(&parts.0)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{bits}-bit parameters differ");
        assert_eq!(whole.1, parts.1, "{bits}-bit state differs");
        assert_eq!(whole.1.len(), if bits == 8 { 4 } else { 2 });
    }
}
