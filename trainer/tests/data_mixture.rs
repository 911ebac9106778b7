//! Mixture ratios, max_samples, and the validation split: disjoint from
//! training, the same on every run, independent of the world size and of the
//! other datasets.

mod common;

use common::{config, scratch, write_jsonl};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use trainer::data::{load_samples, Dataset};

/// Rows `[marker, hi, lo]`, all distinct.
fn dataset(dir: &std::path::Path, name: &str, marker: i64, n: i64) -> std::path::PathBuf {
    let path = dir.join(name);
    let rows: Vec<_> = (0..n)
        .map(|i| json!({"input_ids": [marker, 20 + i / 200, 20 + i % 200]}))
        .collect();
    write_jsonl(&path, &rows);
    path
}

fn load(dir: &std::path::Path, datasets: serde_json::Value, extra: serde_json::Value) -> Dataset {
    let mut data = json!({"objective": "pretrain", "max_seq_length": 8, "cache": false,
        "datasets": datasets, "validation": {"ratio": 0.1, "seed": 7}});
    data.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let mut cfg = config(data);
    cfg.train.micro_batch_size = 4;
    load_samples(&cfg, None, dir).unwrap()
}

fn rows(set: &trainer::data::SampleSet) -> Vec<Vec<i64>> {
    (0..set.len()).map(|i| set.sample(i).input_ids).collect()
}

#[test]
fn mix_ratios_and_max_samples_are_honoured() {
    let dir = scratch("mix");
    let a = dataset(&dir, "a.jsonl", 10, 8000);
    let b = dataset(&dir, "b.jsonl", 11, 4000);
    let c = dataset(&dir, "c.jsonl", 12, 1000);
    let ds = load(
        &dir,
        json!([{"path": a, "mix_ratio": 0.5}, {"path": b, "mix_ratio": 6000.0}, {"path": c, "max_samples": 100}]),
        json!({"validation": null}),
    );
    let train = rows(&ds.train);
    let count = |m: i64| train.iter().filter(|r| r[0] == m).count() as f64;
    assert!(train.len() >= 10_000);
    for (m, want) in [(10, 4000.0), (11, 6000.0), (12, 100.0)] {
        let got = count(m);
        assert!(
            (got - want).abs() <= 0.02 * want,
            "dataset {m}: {got} rows, want {want}"
        );
    }
    // A count of 6000 over 4000 rows repeats every row once or twice; 0.5
    // takes distinct rows.
    let mut b_rows: BTreeMap<&Vec<i64>, usize> = BTreeMap::new();
    for r in train.iter().filter(|r| r[0] == 11) {
        *b_rows.entry(r).or_default() += 1;
    }
    assert_eq!(b_rows.len(), 4000);
    assert!(b_rows.values().all(|&k| k == 1 || k == 2));
    let a_rows: BTreeSet<_> = train.iter().filter(|r| r[0] == 10).collect();
    assert_eq!(a_rows.len(), 4000);
    // The shuffled order interleaves the datasets: ~40% of any stretch is from a.
    let head = train[..2000].iter().filter(|r| r[0] == 10).count() as f64 / 2000.0;
    assert!(
        (head - 0.4).abs() < 0.05,
        "share of a in the first 2000: {head}"
    );
    assert_eq!(ds.summary.datasets[1].train_rows, 6000);
}

#[test]
fn validation_is_disjoint_stable_and_independent_of_world_size_and_other_datasets() {
    let dir = scratch("val");
    let a = dataset(&dir, "a.jsonl", 10, 6000);
    let b = dataset(&dir, "b.jsonl", 11, 6000);
    let first = load(&dir, json!([{"path": a}, {"path": b}]), json!({}));
    let (train, val) = (rows(&first.train), rows(&first.validation));
    let share = val.len() as f64 / 12000.0;
    assert!((share - 0.1).abs() < 0.02, "validation share {share}");
    let train_set: BTreeSet<_> = train.iter().collect();
    assert!(
        val.iter().all(|r| !train_set.contains(r)),
        "validation rows leak into training"
    );
    assert_eq!(train.len() + val.len(), 12000);

    // Another run, other batch sizes (what changes with the world size), no shuffle.
    let mut cfg = config(
        json!({"objective": "pretrain", "max_seq_length": 8, "cache": false, "shuffle": false,
        "datasets": [{"path": a}, {"path": b}], "validation": {"ratio": 0.1, "seed": 7}}),
    );
    for (micro, eff) in [(1, 8), (2, 16), (8, 64)] {
        cfg.train.micro_batch_size = micro;
        cfg.train.effective_batch_size = Some(eff);
        let again = load_samples(&cfg, None, &dir).unwrap();
        let v: BTreeSet<_> = rows(&again.validation).into_iter().collect();
        assert_eq!(v, val.iter().cloned().collect::<BTreeSet<_>>());
    }
    assert_eq!(
        rows(&load(&dir, json!([{"path": a}, {"path": b}]), json!({})).validation),
        val
    );

    // Dataset a alone, or after another one: its held-out rows stay the same.
    let alone: BTreeSet<_> = rows(&load(&dir, json!([{"path": a}]), json!({})).validation)
        .into_iter()
        .collect();
    let a_val: BTreeSet<_> = val.iter().filter(|r| r[0] == 10).cloned().collect();
    assert_eq!(alone, a_val);
    let swapped: BTreeSet<_> =
        rows(&load(&dir, json!([{"path": b}, {"path": a}]), json!({})).validation)
            .into_iter()
            .collect();
    assert_eq!(swapped, val.iter().cloned().collect::<BTreeSet<_>>());
    // Another seed gives another split.
    let other = load(
        &dir,
        json!([{"path": a}]),
        json!({"validation": {"ratio": 0.1, "seed": 8}}),
    );
    assert_ne!(
        rows(&other.validation).into_iter().collect::<BTreeSet<_>>(),
        alone
    );
}
