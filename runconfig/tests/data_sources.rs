//! Where a dataset's rows come from: `path`, `files` or `hub` with `split`,
//! `revision` and `name`; each ill-formed entry is refused naming its key.

fn with(datasets: &str) -> Result<runconfig::Resolved, String> {
    let yaml = format!("run_name: t\ndata: {{ datasets: {datasets} }}\n");
    runconfig::from_str(&yaml, "c.yaml", 1, &[]).map_err(|e| e.to_string())
}

#[test]
fn each_ill_formed_entry_is_named() {
    for (entry, message) in [
        (
            "[{ mix_ratio: 0.5 }]",
            "`data.datasets[0]` names no data: set `path`",
        ),
        (
            "[{ path: a.jsonl }, { path: b.jsonl, hub: acme/x }]",
            "`data.datasets[1]` sets both `path` and `hub`",
        ),
        (
            "[{ hub: acme/x--y }]",
            "`data.datasets[0].hub`: invalid repo id",
        ),
        (
            "[{ hub: acme/x, split: '' }]",
            "`data.datasets[0].split`: empty",
        ),
        (
            "[{ hub: acme/x, revision: 'a..b' }]",
            "`data.datasets[0].revision`: \"a..b\" is not a branch, tag or commit",
        ),
        (
            "[{ path: a.jsonl, split: test }]",
            "`data.datasets[0].split`: applies to a Hub dataset (`hub: org/name`) only",
        ),
        (
            "[{ path: a.jsonl, files: [b.jsonl] }]",
            "`data.datasets[0]` sets both `path` and `files`",
        ),
    ] {
        let e = with(entry)
            .err()
            .unwrap_or_else(|| panic!("{entry} was accepted"));
        assert!(e.contains(message), "{entry}: expected {message:?} in {e}");
    }
}

#[test]
fn hub_entries_read_their_defaults_and_name_themselves() {
    let r = with("[{ hub: acme/chat }, { hub: acme/chat, split: test, revision: v1, name: en }, { path: /d/a.jsonl }]")
        .unwrap();
    let d = &r.config.data.datasets;
    assert_eq!((d[0].split(), d[0].revision()), ("train", "main"));
    assert_eq!(d[0].label(), "acme/chat");
    assert_eq!(d[1].label(), "acme/chat/en:test@v1");
    assert_eq!(d[2].label(), "/d/a.jsonl");
    assert_eq!(r.config.data.hub_ids(), ["acme/chat"]);
}
