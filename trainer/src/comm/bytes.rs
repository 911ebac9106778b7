//! Byte views of host tensors, for sending them over sockets.

use tch::{Device, Tensor};

/// A contiguous host copy (or the tensor itself when it already is one).
pub fn host(t: &Tensor) -> Tensor {
    let t = if t.device() == Device::Cpu {
        t.shallow_clone()
    } else {
        t.to_device(Device::Cpu)
    };
    t.contiguous()
}

/// Byte length of a contiguous tensor's data.
pub fn nbytes(t: &Tensor) -> usize {
    t.numel() * t.kind().elt_size_in_bytes()
}

/// The bytes `[start, start+len)` of a contiguous host tensor.
///
/// # Safety
/// `t` must be contiguous and on the host, and stay alive and unresized while
/// the slice is used; slices handed out for writing must not overlap others.
pub unsafe fn slice_mut<'a>(t: &Tensor, start: usize, len: usize) -> &'a mut [u8] {
    assert!(start + len <= nbytes(t), "byte range out of bounds");
    if len == 0 {
        return &mut [];
    }
    std::slice::from_raw_parts_mut((t.data_ptr() as *mut u8).add(start), len)
}
