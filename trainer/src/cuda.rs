//! CUDA in the trainer: libtorch_cuda is opened at run time, only where an
//! NVIDIA driver is present, so CPU-only runs start faster.

use std::sync::OnceLock;

static LOADED: OnceLock<Result<(), String>> = OnceLock::new();

/// Whether this machine has an NVIDIA driver (a GPU may be usable).
pub fn driver_present() -> bool {
    std::path::Path::new("/proc/driver/nvidia/version").exists()
        || dlopen("libcuda.so.1", libc::RTLD_LAZY).is_ok()
}

fn dlopen(name: &str, flags: i32) -> Result<(), String> {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: dlopen with a valid C string; the handle is kept for the process lifetime.
    let handle = unsafe { libc::dlopen(c.as_ptr(), flags) };
    if handle.is_null() {
        // SAFETY: dlerror returns a C string owned by libc, or null.
        let why = unsafe { libc::dlerror() };
        let why = if why.is_null() {
            "unknown".into()
        } else {
            unsafe { std::ffi::CStr::from_ptr(why) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(why);
    }
    Ok(())
}

/// Opens libtorch_cuda (once), which registers libtorch's CUDA backend.
pub fn load() -> Result<(), String> {
    LOADED
        .get_or_init(|| {
            dlopen("libtorch_cuda.so", libc::RTLD_NOW | libc::RTLD_GLOBAL)
                .map_err(|e| format!("cannot load libtorch_cuda.so ({e}); is the CUDA build of torch installed in .venv?"))
        })
        .clone()
}

/// True when a CUDA device is usable: a driver is present, libtorch_cuda
/// loads, and libtorch sees at least one device.
pub fn available() -> bool {
    driver_present() && load().is_ok() && tch::Cuda::is_available()
}
