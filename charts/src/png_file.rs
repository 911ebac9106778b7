//! Chart files: PNG with a `Software` text chunk that marks them as
//! written here, so that a chart is redrawn over an earlier chart but
//! never over a file someone else put there. Written to a temporary name
//! and renamed, so a reader never sees half a chart.

use anyhow::{bail, Context, Result};
use std::io::BufWriter;
use std::path::Path;

/// The `Software` text every chart carries.
pub const MARK: &str = "Ferrospeed charts";

/// Writes the RGB pixels `rgb` (`width` x `height`) to `path`, replacing
/// only a file this module wrote.
pub fn write(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<()> {
    if path.symlink_metadata().is_ok() && !is_ours(path) {
        bail!(
            "{} exists and is not a chart written by Ferrospeed: move it away or choose another folder",
            path.display()
        );
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("chart");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let written = encode(&tmp, width, height, rgb)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(Into::into));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

fn encode(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<()> {
    // A new file: a link planted at the temporary name is not followed.
    let _ = std::fs::remove_file(path);
    let file = runconfig::safe_fs::create_new(path)?;
    let mut enc = png::Encoder::new(BufWriter::new(file), width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Mostly white with a few lines: filtered and fully compressed it is
    // about a tenth of the default's size.
    enc.set_compression(png::Compression::Best);
    enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    enc.add_text_chunk("Software".into(), MARK.into())?;
    let mut w = enc.write_header()?;
    w.write_image_data(rgb)?;
    w.finish()?;
    Ok(())
}

/// Whether `path` is a regular PNG file carrying [`MARK`].
pub fn is_ours(path: &Path) -> bool {
    let Ok(meta) = path.symlink_metadata() else {
        return false;
    };
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(reader) = png::Decoder::new(std::io::BufReader::new(file)).read_info() else {
        return false;
    };
    meta.is_file()
        && reader
            .info()
            .uncompressed_latin1_text
            .iter()
            .any(|t| t.keyword == "Software" && t.text == MARK)
}
