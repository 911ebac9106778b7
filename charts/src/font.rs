//! The one font of the charts, embedded: DejaVu Sans cut down to ASCII
//! (fonts/README.md), registered with plotters as `sans-serif`.

use std::sync::Once;

static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans-ascii.ttf");

/// The family name charts ask for.
pub const FAMILY: &str = "sans-serif";

/// Registers the font once per process.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font (checked by the tests).
        let _ =
            plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS);
    });
}
