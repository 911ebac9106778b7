//! The fp32 AdamW step is PyTorch's: stepped in parts, as the engine steps
//! its arenas, it gives torch.optim.AdamW(fused=True)'s parameters and
//! moments bit for bit (scripts/adamw-reference).

mod common;
use common::*;
use runconfig::OptimizerConfig;
use serde_json::json;
use tch::{Device, Kind, Tensor};
use trainer::optim::{optimizer, DecayMask};

const N: i64 = 2048;
const LRS: [f64; 5] = [1e-3, 2e-3, 3e-3, 2e-3, 1e-3];

fn bits(t: &Tensor) -> Vec<i32> {
    let v = Vec::<f32>::try_from(t.contiguous()).unwrap();
    v.iter().map(|x| x.to_bits() as i32).collect()
}

/// torch's parameters after each step, then its two moments.
fn torch_reference(param: &Tensor, grads: &[Tensor], cfg: &OptimizerConfig) -> Vec<Vec<i32>> {
    let case = json!({
        "param": bits(param),
        "grads": grads.iter().map(bits).collect::<Vec<_>>(),
        "lrs": LRS,
        "betas": cfg.betas,
        "eps": cfg.eps,
        "weight_decay": cfg.weight_decay,
    });
    python_json("adamw-reference", &case)
}

#[test]
fn adamw_steps_equal_torch_fused_adamw_bit_for_bit() {
    let cfg = OptimizerConfig {
        weight_decay: 0.0,
        ..OptimizerConfig::default()
    };
    tch::manual_seed(11);
    let opts = (Kind::Float, Device::Cpu);
    let param = Tensor::randn([N], opts) * 0.02;
    let grads: Vec<Tensor> = (0..LRS.len())
        .map(|_| Tensor::randn([N], opts) * 1e-2)
        .collect();
    let want = torch_reference(&param, &grads, &cfg);
    let n = N as usize;
    let mut opt = optimizer(&cfg, false, n, Device::Cpu, DecayMask::all(n));
    for (step, (grad, lr)) in grads.iter().zip(LRS).enumerate() {
        for (a, len) in [(0, 512), (512, N - 512)] {
            let mut part = param.narrow(0, a, len);
            opt.step_at(
                a as usize,
                &mut part,
                &grad.narrow(0, a, len),
                lr,
                step as u64 + 1,
            );
        }
        let got = bits(&param);
        let differ = got.iter().zip(&want[step]).filter(|(a, b)| a != b).count();
        assert_eq!(
            differ,
            0,
            "step {}: {differ} of {N} parameters differ from torch",
            step + 1
        );
    }
    let state = opt.state();
    for (piece, want) in state.iter().zip(&want[LRS.len()..]) {
        assert_eq!(
            &bits(&piece.tensor),
            want,
            "{} differs from torch",
            piece.name
        );
    }
}
