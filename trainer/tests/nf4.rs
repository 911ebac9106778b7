//! NF4 against bitsandbytes (`scripts/make-nf4-references`): packed bytes,
//! plain and double-quantised absmax, and dequantised values are equal bit
//! for bit; plus the round-trip error bound and the refusals of bad input.

mod common;

use std::collections::HashMap;

use common::{nf4_refs, read_tensors};
use tch::{Device, Kind, Tensor};
use trainer::optim::quant::dynamic_map;
use trainer::quant::nf4::{BLOCKSIZES, NF4_CODE};
use trainer::quant::{dequantize, quantize, Absmax, Nf4};

fn refs() -> HashMap<String, Tensor> {
    read_tensors(&nf4_refs().join("nf4.safetensors"))
}

/// The reference case names, sorted.
fn cases(r: &HashMap<String, Tensor>) -> Vec<String> {
    let mut names: Vec<String> = r
        .keys()
        .filter_map(|k| k.strip_suffix(".x").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 13, "reference cases: {names:?}");
    names
}

/// The bits of a float tensor's values (bf16 and f16 widened to f32 exactly).
fn bits(t: &Tensor) -> Vec<u32> {
    let v = Vec::<f32>::try_from(t.to_kind(Kind::Float).reshape([-1])).unwrap();
    v.iter().map(|x| x.to_bits()).collect()
}

fn bytes(t: &Tensor) -> Vec<u8> {
    Vec::<u8>::try_from(t.reshape([-1])).unwrap()
}

/// Asserts bit equality, naming the first difference.
fn assert_bits(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.size(), want.size(), "{what}: shape");
    assert_eq!(got.kind(), want.kind(), "{what}: kind");
    let (g, w) = (bits(got), bits(want));
    if let Some(i) = (0..g.len()).find(|&i| g[i] != w[i]) {
        let (a, b) = (f32::from_bits(g[i]), f32::from_bits(w[i]));
        let n = (0..g.len()).filter(|&i| g[i] != w[i]).count();
        panic!("{what}: {n} values differ, first at {i}: {a:e} vs {b:e}");
    }
}

fn assert_bytes(got: &Tensor, want: &Tensor, what: &str) {
    let (g, w) = (bytes(got), bytes(want));
    assert_eq!(g.len(), w.len(), "{what}: length");
    if let Some(i) = (0..g.len()).find(|&i| g[i] != w[i]) {
        let n = (0..g.len()).filter(|&i| g[i] != w[i]).count();
        panic!(
            "{what}: {n} bytes differ, first at {i}: {:#04x} vs {:#04x}",
            g[i], w[i]
        );
    }
}

fn blocksize(r: &HashMap<String, Tensor>, case: &str) -> i64 {
    r[&format!("{case}.blocksize")].int64_value(&[0])
}

#[test]
fn code_tables_equal_bitsandbytes() {
    let r = refs();
    assert_bits(&Tensor::from_slice(&NF4_CODE), &r["nf4_code"], "NF4 code");
    let map = Tensor::from_slice(&dynamic_map(true));
    assert_bits(&map, &r["dynamic_map"], "dynamic map");
}

#[test]
fn packed_data_and_absmax_equal_bitsandbytes() {
    let r = refs();
    for case in cases(&r) {
        let q = quantize(&r[&format!("{case}.x")], blocksize(&r, &case), false).unwrap();
        assert_bytes(
            &q.packed,
            &r[&format!("{case}.packed")],
            &format!("{case} packed"),
        );
        let Absmax::Plain(absmax) = &q.absmax else {
            panic!("{case}: nested absmax without double_quant")
        };
        assert_bits(
            absmax,
            &r[&format!("{case}.absmax")],
            &format!("{case} absmax"),
        );
    }
}

#[test]
fn nested_absmax_equals_bitsandbytes() {
    let r = refs();
    for case in cases(&r) {
        let q = quantize(&r[&format!("{case}.x")], blocksize(&r, &case), true).unwrap();
        assert_bytes(
            &q.packed,
            &r[&format!("{case}.packed")],
            &format!("{case} packed"),
        );
        let Absmax::Nested {
            codes,
            scales,
            offset,
        } = &q.absmax
        else {
            panic!("{case}: plain absmax with double_quant")
        };
        let key = |part: &str| format!("{case}.nested.{part}");
        assert_bytes(codes, &r[&key("codes")], &key("codes"));
        assert_bits(scales, &r[&key("scales")], &key("scales"));
        let want = r[&key("offset")].double_value(&[0]) as f32;
        assert_eq!(
            offset.to_bits(),
            want.to_bits(),
            "{case}: offset {offset:e} vs {want:e}"
        );
    }
}

/// The quantised state as bitsandbytes returned it, plain or nested.
fn reference_state(r: &HashMap<String, Tensor>, case: &str, nested: bool) -> Nf4 {
    let part = |p: &str| r[&format!("{case}.{p}")].shallow_clone();
    let absmax = if nested {
        Absmax::Nested {
            codes: part("nested.codes"),
            scales: part("nested.scales"),
            offset: part("nested.offset").double_value(&[0]) as f32,
        }
    } else {
        Absmax::Plain(part("absmax"))
    };
    Nf4 {
        packed: part("packed"),
        absmax,
        shape: part("x").size(),
        blocksize: blocksize(r, case),
    }
}

#[test]
fn dequantized_values_equal_bitsandbytes() {
    let r = refs();
    for case in cases(&r) {
        for (nested, prefix) in [(false, case.clone()), (true, format!("{case}.nested"))] {
            let q = reference_state(&r, &case, nested);
            for (kind, suffix) in [(Kind::Float, "f32"), (Kind::BFloat16, "bf16")] {
                let got = dequantize(&q, kind).unwrap();
                let key = format!("{prefix}.deq.{suffix}");
                assert_bits(&got, &r[&key], &key);
            }
        }
    }
}

#[test]
fn midpoints_take_the_lower_code_and_the_first_element_the_high_nibble() {
    let mids: Vec<f32> = NF4_CODE.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    // The next float up: one ulp more magnitude above 0, one less below.
    let next_up = |m: &f32| {
        f32::from_bits(if *m > 0.0 {
            m.to_bits() + 1
        } else {
            m.to_bits() - 1
        })
    };
    let above: Vec<f32> = mids.iter().map(next_up).collect();
    for (values, first) in [(&mids, 0u8), (&above, 1u8)] {
        let x: Vec<f32> = [1.0].iter().chain(values.iter()).copied().collect();
        let q = quantize(&Tensor::from_slice(&x), 64, false).unwrap();
        let nibbles: Vec<u8> = bytes(&q.packed)
            .iter()
            .flat_map(|b| [b >> 4, b & 15])
            .collect();
        let want: Vec<u8> = [15].into_iter().chain(first..first + 15).collect();
        assert_eq!(
            nibbles, want,
            "codes of 1 and the midpoints (+{first} ulp up)"
        );
    }
    let q = quantize(&Tensor::from_slice(&[1.0f32, -1.0, 0.0]), 64, false).unwrap();
    assert_eq!(bytes(&q.packed), [0xf0, 0x77], "1, -1, 0 and the pad");
}

#[test]
fn round_trip_is_within_half_an_nf4_step() {
    let half_step = NF4_CODE
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(0f32, f32::max)
        / 2.0;
    tch::manual_seed(11);
    for (i, &bs) in BLOCKSIZES.iter().enumerate() {
        let kind = [Kind::Float, Kind::BFloat16, Kind::Half][i % 3];
        let x = (Tensor::randn([37, 129], (Kind::Float, Device::Cpu)) * 3.0).to_kind(kind);
        let q = quantize(&x, bs, false).unwrap();
        let back = dequantize(&q, Kind::Float).unwrap();
        assert_eq!(back.size(), x.size());
        let n = x.numel() as i64;
        let absmax = match &q.absmax {
            Absmax::Plain(a) => a.repeat_interleave_self_int(bs, 0, None).narrow(0, 0, n),
            Absmax::Nested { .. } => unreachable!(),
        };
        let err = (back - x.to_kind(Kind::Float)).abs().reshape([-1]);
        let excess = (err - absmax * (half_step as f64 * (1.0 + 1e-6))).max();
        assert!(excess.double_value(&[]) <= 0.0, "blocksize {bs}: {excess}");
    }
}

fn error_of<T>(r: anyhow::Result<T>) -> String {
    match r {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_input_is_refused() {
    let x = Tensor::ones([4, 64], (Kind::Float, Device::Cpu));
    let empty = Tensor::zeros([0, 64], (Kind::Float, Device::Cpu));
    assert!(error_of(quantize(&empty, 64, false)).contains("empty tensor"));
    assert!(error_of(quantize(&x, 48, false)).contains("blocksize 48 is not one of"));
    assert!(error_of(quantize(&x, 8192, true)).contains("blocksize 8192"));
    let ints = x.to_kind(Kind::Int64);
    assert!(error_of(quantize(&ints, 64, false)).contains("not Int64"));
    let doubles = x.to_kind(Kind::Double);
    assert!(error_of(quantize(&doubles, 64, false)).contains("f32, bf16 and f16 only"));
    let q = quantize(&x, 64, true).unwrap();
    assert!(error_of(dequantize(&q, Kind::Int8)).contains("dequantisation supports"));
    let short = Nf4 {
        packed: q.packed.narrow(0, 0, 100),
        ..q
    };
    assert!(error_of(dequantize(&short, Kind::Float)).contains("packed data"));
    let q = quantize(&x, 64, false).unwrap();
    let wrong = Nf4 {
        shape: vec![2, 128],
        blocksize: 32,
        ..q
    };
    assert!(error_of(dequantize(&wrong, Kind::Float)).contains("absmax covers 4 blocks"));
}
