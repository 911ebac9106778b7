//! Serde defaults more than one section shares. A leaf: the sections use
//! it, it uses none of them.

/// `true`, for boolean keys that are on unless turned off.
pub(crate) fn yes() -> bool {
    true
}

/// The seed of the run and of the validation split.
pub(crate) fn default_seed() -> u64 {
    42
}
