//! The Hub settings `huggingface_hub` reads from the environment.

/// `$HF_ENDPOINT` without a trailing `/`, or `https://huggingface.co`.
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .map(|e| e.trim().trim_end_matches('/').to_string())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "https://huggingface.co".into())
}

/// Whether `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) is set to a true value.
pub fn offline() -> bool {
    ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"].iter().any(|n| {
        std::env::var(n)
            .map(|v| {
                matches!(
                    v.trim().to_ascii_uppercase().as_str(),
                    "1" | "ON" | "YES" | "TRUE"
                )
            })
            .unwrap_or(false)
    })
}

/// Upload threads: `$FERROSPEED_HUB_THREADS`, default 8.
pub fn threads() -> usize {
    std::env::var("FERROSPEED_HUB_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(8)
}
