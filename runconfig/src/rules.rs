//! The shared rules of the section checks: a count that may be left out
//! but not be 0, a float in its range, and numbers written as a reader
//! writes them. A leaf: every section's checks use it.

/// A number as a reader writes it: 1e39 and 1e-50 rather than their 40 digits.
pub(crate) fn number(v: f64) -> String {
    let a = v.abs();
    if a.is_finite() && a != 0.0 && !(1e-4..1e6).contains(&a) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// A count that may be left out but not set to 0.
pub(crate) fn positive(
    key: &str,
    value: Option<impl Into<u64>>,
    unset: &str,
) -> Result<(), String> {
    match value.map(Into::into) {
        Some(0) => Err(format!("`{key}` must be at least 1 ({unset}), got 0")),
        _ => Ok(()),
    }
}

/// A float key (when set), the rule it must follow, and the rule in words.
pub(crate) type Rule<'a> = (&'a str, Option<f64>, fn(f64) -> bool, &'a str);

pub(crate) fn floats(rules: &[Rule]) -> Result<(), String> {
    for (key, value, ok, what) in rules {
        match value {
            Some(v) if !ok(*v) => {
                return Err(format!("`{key}` must be {what}, got {}", number(*v)))
            }
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn share(v: f64) -> bool {
    v.is_finite() && (0.0..=1.0).contains(&v)
}

pub(crate) fn non_negative(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

/// What `std::time::Duration` holds without panicking, and more than anyone waits.
pub(crate) fn seconds(v: f64) -> bool {
    (0.0..=1e9).contains(&v)
}

pub(crate) fn positive_number(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Positive, and still positive and finite as f32 (the optimizer computes in f32).
pub(crate) fn positive_f32(v: f64) -> bool {
    let f = v as f32;
    v > 0.0 && f > 0.0 && f.is_finite()
}
