//! Values that parse but make no sense are refused at load time, each
//! naming its key.

fn refused(sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    runconfig::from_str("run_name: t\n", "c.yaml", 1, &sets)
        .unwrap_err()
        .to_string()
}

#[test]
fn each_bad_value_is_named() {
    for (set, message) in [
        (
            "train.threads=0",
            "c.yaml: `train.threads` must be at least 1",
        ),
        ("train.max_steps=0", "`train.max_steps` must be at least 1"),
        (
            "train.sanity_steps=0",
            "`train.sanity_steps` must be at least 1",
        ),
        (
            "train.epochs=0",
            "`train.epochs` must be a positive number, got 0",
        ),
        (
            "train.epochs=-1",
            "`train.epochs` must be a positive number, got -1",
        ),
        (
            "train.lr_schedule.warmup_ratio=-0.1",
            "`train.lr_schedule.warmup_ratio` must be a share in [0, 1]",
        ),
        (
            "train.lr_schedule.min_lr_ratio=2",
            "`train.lr_schedule.min_lr_ratio` must be a share",
        ),
        (
            "train.max_grad_norm=-1",
            "`train.max_grad_norm` must be a non-negative number",
        ),
        (
            "train.dpo_beta=0",
            "`train.dpo_beta` must be a positive number",
        ),
        (
            "train.dpo_loss_type=sigmoid",
            "`train.dpo_loss_type`: `sigmoid` is not one of: dpo, dpo_norm, simpo, wpo, ipo",
        ),
        (
            "train.dpo_label_smoothing=-0.1",
            "`train.dpo_label_smoothing` must be a number in [0, 0.5)",
        ),
        (
            "train.simpo_gamma=1",
            "`train.simpo_gamma` applies only to `train.dpo_loss_type: simpo`, but the loss type is dpo",
        ),
        (
            "train.learning_rate=1e39",
            "`train.learning_rate` must be a non-negative number that fits in f32",
        ),
        ("train.learning_rate=.nan", "`train.learning_rate`"),
        (
            "optimizer.eps=0",
            "`optimizer.eps` must be a positive number that fits in f32",
        ),
        (
            "optimizer.eps=1e-50",
            "`optimizer.eps` must be a positive number that fits in f32",
        ),
        (
            "optimizer.betas=[0.9, 1.0]",
            "`optimizer.betas` must be two numbers in [0, 1)",
        ),
        (
            "optimizer.weight_decay=-0.1",
            "`optimizer.weight_decay` must be a non-negative number",
        ),
        (
            "optimizer.offload=gpu",
            "`optimizer.offload`: `gpu` is not one of: none, cpu",
        ),
        (
            "checkpoint.keep_last=0",
            "`checkpoint.keep_last` must be at least 1",
        ),
        (
            "eval.every_steps=0",
            "`eval.every_steps` must be at least 1",
        ),
        (
            "eval.max_samples=0",
            "`eval.max_samples` must be at least 1",
        ),
        (
            "eval.max_batches=8",
            "`eval.max_batches` is no longer a key: it counted batches per rank, so the evaluated set grew with the world size; set `eval.max_samples` instead",
        ),
        (
            "train.sanity.min_tokens_per_s=-5",
            "`train.sanity.min_tokens_per_s` must be a positive number",
        ),
        (
            "logging.peak_flops_per_device=0",
            "`logging.peak_flops_per_device` must be a positive",
        ),
        (
            "launcher.grace_period_s=.inf",
            "`launcher.grace_period_s` must be a number of seconds",
        ),
        (
            "data.datasets=[{path: d.jsonl, mix_ratio: 0}]",
            "`data.datasets[0].mix_ratio` must be a positive number",
        ),
        (
            "data.datasets=[{path: d.jsonl, max_samples: 0}]",
            "`data.datasets[0].max_samples` must be at least 1",
        ),
        (
            "train.lr_schedule={kind: constant, warmup_steps: 10}",
            "kind `constant` has no warmup (as transformers' get_constant_schedule); use kind: constant_with_warmup",
        ),
        (
            "train.lr_schedule={kind: wsd, warmup_steps: 10}",
            "kind wsd needs the length of its decay: set decay_ratio",
        ),
        (
            "train.lr_schedule={kind: wsd, warmup_ratio: 0.5, decay_ratio: 0.6}",
            "warmup_ratio + decay_ratio = 1.1 is more than all the steps",
        ),
        (
            "train.lr_schedule={kind: wsd, decay_ratio: 1.5}",
            "`train.lr_schedule.decay_ratio` must be a share in [0, 1], got 1.5",
        ),
        (
            "train.lr_schedule={kind: cosine, decay_ratio: 0.1}",
            "`train.lr_schedule.decay_ratio` applies to kind: wsd only",
        ),
        (
            "hub.repo_id=a/b/c",
            "`hub.repo_id`: invalid repo id \"a/b/c\": at most one '/'",
        ),
        (
            "hub={repo_id: x, namespace: -bad}",
            "`hub.namespace`: invalid namespace \"-bad\"",
        ),
        (
            "hub={repo_id: x, revision: a b}",
            "`hub.revision`: \"a b\" is not a branch name",
        ),
    ] {
        let e = refused(&[set]);
        assert!(e.contains(message), "--set {set}: {e}");
    }
}

#[test]
fn a_sum_reduction_is_refused_for_dpo() {
    let e = refused(&["data.objective=dpo", "train.reduce_loss=sum"]);
    assert!(
        e.contains("`train.reduce_loss: sum` applies to pretraining and SFT"),
        "{e}"
    );
}

#[test]
fn good_values_pass() {
    let sets = [
        "train.threads=2",
        "train.max_steps=1",
        "train.epochs=0.5",
        "train.learning_rate=0",
        "optimizer.eps=1e-30",
        "optimizer.betas=[0.0, 0.999]",
        "optimizer.offload=cpu",
        "checkpoint.keep_last=1",
        "train.reduce_loss=sum",
        "train.lr_schedule={kind: wsd, warmup_ratio: 0.1, decay_ratio: 0.9, decay_type: 1-sqrt}",
        "eval.max_samples=1",
        "launcher.grace_period_s=0",
        "hub={repo_id: org/name, namespace: org, revision: runs/v1.0}",
    ];
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    runconfig::from_str("run_name: t\n", "c.yaml", 1, &sets).unwrap();
}

#[test]
fn each_dpo_loss_type_loads_with_the_keys_it_reads() {
    let cases: [&[&str]; 6] = [
        &["train.dpo_loss_type=dpo", "train.dpo_label_smoothing=0.1"],
        &[
            "train.dpo_loss_type=dpo_norm",
            "train.dpo_label_smoothing=0.49",
        ],
        &[
            "train.dpo_loss_type=simpo",
            "train.simpo_gamma=1.2",
            "train.dpo_label_smoothing=0.1",
        ],
        &["train.dpo_loss_type=simpo"],
        &["train.dpo_loss_type=wpo", "train.dpo_label_smoothing=0.2"],
        &["train.dpo_loss_type=ipo", "train.dpo_beta=0.5"],
    ];
    for sets in cases {
        let owned: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let c = runconfig::from_str("run_name: t\n", "c.yaml", 1, &owned)
            .unwrap_or_else(|e| panic!("{sets:?}: {e}"))
            .config;
        let kind = sets[0].rsplit('=').next().unwrap();
        assert_eq!(c.train.dpo_loss_type.name(), kind);
    }
    let simpo = |sets: &[&str]| {
        let owned: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        runconfig::from_str("run_name: t\n", "c.yaml", 1, &owned)
            .unwrap()
            .config
            .train
            .simpo_gamma()
    };
    assert_eq!(
        simpo(&["train.dpo_loss_type=simpo"]),
        runconfig::DEFAULT_SIMPO_GAMMA
    );
    assert_eq!(
        simpo(&["train.dpo_loss_type=simpo", "train.simpo_gamma=1.2"]),
        1.2
    );
}
