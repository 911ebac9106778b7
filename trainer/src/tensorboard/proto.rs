//! The parts of TensorFlow's `Event` and `Summary` messages
//! (tensorflow/core/util/event.proto, framework/summary.proto) that scalar
//! curves need; field numbers as in those files.

/// One record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The training step the values belong to.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// The payload of an [`Event`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// First record of a file: `brain.Event:2`.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Scalars of one step.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// Values of one step.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// One entry per tag.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// One scalar.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The curve's name, e.g. `train/loss`.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The value (in a oneof, as in summary.proto, so that 0 is written).
    #[prost(oneof = "Scalar", tags = "2")]
    pub value: Option<Scalar>,
}

/// The kinds of value a curve point can be; scalars only here.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Scalar {
    /// A float scalar.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
}
