//! The `trainer` crate as a library: the pieces one rank of a Ferrospeed run
//! is built from, shared by the `trainer` binary and the tests.

#![warn(missing_docs)]

pub mod model;
