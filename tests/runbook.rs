//! The run book as a user runs it: a model and two datasets named by Hub id
//! (served by the test Hub), SFT at 2 ranks with 8-bit AdamW, DPO from it,
//! a push when DPO finishes. It completes; a re-run skips both stages; a
//! Ctrl-C in DPO and a re-run give the same weights as the run that was
//! never stopped; the pushed repository holds the model and its card, and
//! transformers chats with it.

mod common;

use common::runbook::{env, RunBook};
use common::*;

/// A tiny Llama with the sanity chat tokenizer, pushed after DPO.
fn book() -> RunBook {
    RunBook {
        model: "acme/tiny-chat".into(),
        pushed: "acme/tiny-chat-dpo".into(),
        make: TINY_LLAMA.into(),
        lora: None,
    }
}

#[test]
fn the_run_book_by_hub_ids_completes_resumes_and_pushes_a_model_that_chats() {
    let home = TempDir::new("runbook");
    let book = book();
    let hub = book.hub(&home);
    let hf = home.join("hf");
    let env = env(&hub, &hf);
    let (p, _) = book.run(&hub, &home);

    let again = text(&launch_clean(&["2", &p], &env, &home.0));
    assert!(again.contains("sft: completed, skipped"), "{again}");
    assert!(again.contains("dpo: completed, skipped"), "{again}");

    let files = book.pushed_files(&hub);
    assert!(
        files.contains(&"model.safetensors".to_string()),
        "{files:?}"
    );
    let internal: Vec<&String> = files.iter().filter(|f| f.starts_with('.')).collect();
    assert!(internal.is_empty(), "tool files were pushed: {internal:?}");
    let card = std::fs::read_to_string(home.join("out/dpo/final/README.md")).unwrap();
    for named in [
        "acme/tiny-chat",
        "acme/chat-sft",
        "acme/chat-prefs",
        "SFT",
        "DPO",
    ] {
        assert!(
            card.contains(named),
            "the card does not name {named}:\n{card}"
        );
    }
    assert!(!card.contains("local folder"), "{card}");

    book.chat(&hub, &home);

    // The same run book, stopped by Ctrl-C in DPO, then run again.
    book.assert_ctrl_c_resumes_to_same_weights(&home, &env);
}
