use runconfig::from_str;

const BASE: &str = "run_name: t\ntrain:\n  micro_batch_size: 2\n  effective_batch_size: 16\nby_world_size:\n  1: { train.micro_batch_size: 4 }\n  8: { optimizer.bits: 8 }\n";

fn err(text: &str, w: u32, sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    from_str(text, "c.yaml", w, &sets).unwrap_err().to_string()
}

#[test]
fn accumulation_follows_the_world_size_and_toggles() {
    let r1 = from_str(BASE, "c.yaml", 1, &[]).unwrap();
    assert_eq!((r1.plan.micro_batch_size, r1.plan.grad_accum), (4, 4));
    let r2 = from_str(BASE, "c.yaml", 2, &[]).unwrap();
    assert_eq!((r2.plan.micro_batch_size, r2.plan.grad_accum), (2, 4));
    let r8 = from_str(BASE, "c.yaml", 8, &[]).unwrap();
    assert_eq!((r8.plan.grad_accum, r8.config.optimizer.bits), (1, 8));
    let s = from_str(BASE, "c.yaml", 2, &["train.micro_batch_size=1".into()]).unwrap();
    assert_eq!(s.plan.grad_accum, 8);
}

#[test]
fn unknown_key_names_line_and_closest_key() {
    let e = err("run_name: t\ntrain:\n  micro_bach_size: 2\n", 1, &[]);
    assert!(e.starts_with("c.yaml:3:"), "{e}");
    assert!(
        e.contains("unknown key `train.micro_bach_size`; did you mean `train.micro_batch_size`?"),
        "{e}"
    );
}

#[test]
fn wrong_type_names_line_and_key() {
    let e = err("run_name: t\ntrain:\n  learning_rate: fast\n", 1, &[]);
    assert!(e.starts_with("c.yaml:3:"), "{e}");
    assert!(e.contains("train.learning_rate"), "{e}");
}

#[test]
fn batch_that_does_not_divide_is_refused_with_alternatives() {
    let e = err(BASE, 3, &[]);
    assert!(
        e.contains("not a multiple of micro_batch_size x world size = 2 x 3 = 6"),
        "{e}"
    );
    assert!(e.contains("use 12 or 18"), "{e}");
}

#[test]
fn bad_set_is_named() {
    let e = err(BASE, 1, &["train.micro_batchsize=3"]);
    assert!(e.contains("--set train.micro_batchsize=3"), "{e}");
    assert!(e.contains("did you mean `train.micro_batch_size`"), "{e}");
    let e = err(BASE, 1, &["train.micro_batch_size"]);
    assert!(e.contains("expected KEY=VALUE"), "{e}");
    let e = err(BASE, 1, &["optimizer.bits=4"]);
    assert!(e.contains("`optimizer.bits` must be 32 or 8"), "{e}");
}

#[test]
fn zero_processes_is_refused() {
    assert!(err(BASE, 0, &[]).contains("at least 1"));
}

#[test]
fn overrides_are_one_overlay_whatever_their_order() {
    // `hub.push` sorts before `hub.repo_id`: applied one by one, the first
    // left a hub section without its required repo_id.
    let sets = ["hub.push=on_finish", "hub.repo_id=acme/model"];
    for order in [sets, [sets[1], sets[0]]] {
        let owned: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        let r = runconfig::from_str("run_name: t\n", "c.yaml", 1, &owned)
            .unwrap_or_else(|e| panic!("{order:?}: {e}"));
        let hub = r.config.hub.expect("a hub section");
        assert_eq!(hub.repo_id, "acme/model");
        assert_eq!(hub.push, runconfig::PushWhen::OnFinish);
    }
    let toggles =
        "run_name: t\nby_world_size:\n  2: { hub.push: on_finish, hub.repo_id: acme/m }\n";
    let r = runconfig::from_str(toggles, "c.yaml", 2, &[]).unwrap();
    assert_eq!(r.config.hub.unwrap().repo_id, "acme/m");
}

#[test]
fn a_bad_value_in_an_overlay_names_its_pair() {
    let e = err(
        "run_name: t\n",
        1,
        &["train.seed=3", "train.micro_batch_size=x"],
    );
    assert!(e.contains("--set train.micro_batch_size=x"), "{e}");
    assert!(!e.contains("--set train.seed=3"), "{e}");
}
