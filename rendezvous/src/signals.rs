//! Stop signals, as both sides of the contract handle them: `launch`
//! forwards SIGINT/SIGTERM to the ranks, and a rank stops gracefully on the
//! first and at once on the second.

/// Installs `handler` for SIGINT and SIGTERM. The handler must be
/// async-signal-safe (atomics, `_exit`).
pub fn on_stop_signals(handler: extern "C" fn(libc::c_int)) {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a plain sigaction with an async-signal-safe handler.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}
