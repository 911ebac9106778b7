//! The on-disk contracts both binaries keep: what the trainer writes and
//! `launch` (or a later run) reads back. Checkpoint folders and their
//! metadata ([`checkpoint`]), the marker of a finished run ([`finished`]),
//! and the marker and options of an export folder ([`export`]). Apart from
//! the schema: a file name here is a promise to files already on disk.

pub mod checkpoint;
pub mod export;
pub mod finished;
