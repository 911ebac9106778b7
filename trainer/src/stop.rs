//! Graceful stop: the first SIGTERM/SIGINT asks the ranks to finish the
//! current step, save a checkpoint and exit; a second one exits at once.

use std::sync::atomic::{AtomicUsize, Ordering};

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// Exit status of a rank stopped at once by a second signal.
pub const EXIT_INTERRUPTED: i32 = 130;

extern "C" fn on_signal(_: libc::c_int) {
    if SIGNALS.fetch_add(1, Ordering::SeqCst) >= 1 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(EXIT_INTERRUPTED) };
    }
}

/// Installs the handlers for SIGINT and SIGTERM.
pub fn install() {
    rendezvous::signals::on_stop_signals(on_signal);
}

/// Whether a stop was requested on this rank.
pub fn requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}
