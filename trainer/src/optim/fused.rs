//! libtorch's fused AdamW step (`torch._fused_adamw_`): one pass that reads
//! the gradient and updates the parameters and both moments, on the CPU and
//! on CUDA. tch does not bind it; `fused_adamw.cpp` calls it for one flat
//! tensor of each.

use std::ffi::{c_char, CStr};
use tch::{Kind, Tensor};
use torch_sys::C_tensor;

use super::AdamW;

extern "C" {
    fn ferrospeed_fused_adamw(
        param: *const C_tensor,
        grad: *const C_tensor,
        exp_avg: *const C_tensor,
        exp_avg_sq: *const C_tensor,
        step: *const C_tensor,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
    ) -> *mut c_char;
}

/// AdamW step `t` (1-based) of flat fp32 `param` in place, with moments `m`
/// and `v` (updated in place) and gradient `grad`, all on one device; no
/// weight decay (the caller applies it to the decayed elements first).
/// Elementwise: a step of a vector in parts whose lengths are multiples of
/// 256 gives the numbers of a step of the whole (each element takes the
/// kernel's vectorised path).
///
/// Panics with libtorch's message when the tensors do not fit together,
/// as tch's own operations do.
pub fn adamw_step(
    h: &AdamW,
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    lr: f64,
    t: u64,
) {
    let step = Tensor::full([], t as f64, (Kind::Float, param.device()));
    // SAFETY: every pointer is a live tensor borrowed for the call; the
    // function only reads the handles and returns an owned C string or null.
    let err = unsafe {
        ferrospeed_fused_adamw(
            param.as_ptr(),
            grad.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            step.as_ptr(),
            lr,
            h.beta1,
            h.beta2,
            0.0,
            h.eps,
        )
    };
    if !err.is_null() {
        // SAFETY: a NUL-terminated string from strdup, freed once here.
        let msg = unsafe { CStr::from_ptr(err) }
            .to_string_lossy()
            .into_owned();
        unsafe { libc::free(err.cast()) };
        panic!("fused AdamW step: {msg}");
    }
}
