use super::*;

fn healthy() -> Observed {
    Observed {
        losses: vec![2.0, 1.8, 1.5, 1.2],
        grad_norms: vec![1.0, 0.9, 0.8, 0.7],
        tokens_per_s: 1000.0,
        peak_memory_bytes: 100 << 20,
        memory_limit_bytes: 1000 << 20,
        ..Observed::default()
    }
}

fn floors(min: Option<f64>) -> Floors {
    Floors {
        max_grad_norm: 1.0,
        min_tokens_per_s: min,
    }
}

#[test]
fn a_healthy_run_is_green() {
    let (text, green) = table(&healthy(), &floors(Some(500.0)));
    assert!(green, "{text}");
    assert!(
        text.contains("GREEN  throughput             1000 tokens/s (floor 500)"),
        "{text}"
    );
}

#[test]
fn a_slow_run_is_red_and_says_what_to_do() {
    let (text, green) = table(&healthy(), &floors(Some(5000.0)));
    assert!(!green);
    assert!(text.contains("RED    throughput"), "{text}");
    assert!(
        text.contains("-> too slow: raise train.micro_batch_size"),
        "{text}"
    );
}

#[test]
fn memory_above_95_percent_is_red() {
    let o = Observed {
        peak_memory_bytes: 960 << 20,
        ..healthy()
    };
    let (text, green) = table(&o, &floors(None));
    assert!(!green);
    assert!(
        text.contains("RED    memory                 peak 960.0 MiB of 1000.0 MiB (96%)"),
        "{text}"
    );
    let o = Observed {
        peak_memory_bytes: 940 << 20,
        ..healthy()
    };
    assert!(table(&o, &floors(None)).1);
}
