//! configs/tulu3-8b-*.yaml hold open-instruct's Tulu 3 hyper-parameters
//! (scripts/train/tulu3/finetune_8b.sh and dpo_8b.sh), whatever the world
//! size.

use runconfig::{load_unchecked, DpoLossType, Objective, ReduceLoss, ScheduleKind, TemplateSource};
use std::path::PathBuf;

fn config(name: &str, world: u32) -> runconfig::Resolved {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../configs")
        .join(name);
    load_unchecked(&path, world, &[]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_tulu3_sft_recipe_is_open_instructs() {
    for world in [1, 2, 8] {
        let r = config("tulu3-8b-sft.yaml", world);
        let (c, t) = (&r.config, &r.config.train);
        assert_eq!(c.model.hub_path(), Some("meta-llama/Llama-3.1-8B"));
        assert_eq!(c.data.objective, Objective::Sft);
        assert_eq!(c.data.max_seq_length, 4096);
        assert_eq!(c.data.chat_template, Some(TemplateSource::Named("tulu")));
        assert!(!c.data.packing);
        assert_eq!(
            (r.plan.micro_batch_size, r.plan.effective_batch_size),
            (1, 128)
        );
        assert_eq!((t.epochs, t.learning_rate, t.seed), (Some(2.0), 5.0e-6, 8));
        assert_eq!(t.lr_schedule.kind, ScheduleKind::Linear);
        assert_eq!(t.lr_schedule.warmup_ratio, 0.03);
        assert_eq!(t.reduce_loss, ReduceLoss::Mean);
        assert_eq!(c.data.hub_ids(), ["allenai/tulu-3-sft-mixture"]);
        assert_eq!((c.optimizer.bits, c.optimizer.weight_decay), (32, 0.0));
    }
}

#[test]
fn the_tulu3_dpo_recipe_is_open_instructs() {
    for world in [1, 2, 8] {
        let r = config("tulu3-8b-dpo.yaml", world);
        let (c, t) = (&r.config, &r.config.train);
        assert_eq!(c.model.hub_path(), Some("allenai/Llama-3.1-Tulu-3-8B-SFT"));
        assert_eq!(c.data.objective, Objective::Dpo);
        assert_eq!(c.data.max_seq_length, 2048);
        assert_eq!(
            (r.plan.micro_batch_size, r.plan.effective_batch_size),
            (1, 128)
        );
        assert_eq!((t.epochs, t.learning_rate, t.seed), (Some(1.0), 5.0e-7, 8));
        assert_eq!(t.lr_schedule.kind, ScheduleKind::Linear);
        assert_eq!(t.lr_schedule.warmup_ratio, 0.1);
        assert_eq!((t.dpo_loss_type, t.dpo_beta), (DpoLossType::DpoNorm, 5.0));
        let mixture = "allenai/llama-3.1-tulu-3-8b-preference-mixture";
        assert_eq!(c.data.hub_ids(), [mixture]);
        assert_eq!((c.optimizer.bits, c.optimizer.weight_decay), (32, 0.0));
    }
}
