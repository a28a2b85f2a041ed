//! The pure domain: vocabulary, scan grammar, policies and the returns state machine.
//! No I/O, no clock reads, no serde: time is passed in, wire types live at the edges.
pub mod doubleread;
pub mod error;
pub mod event;
pub mod fold;
pub mod ids;
pub mod kind;
pub mod model;
pub mod policy;
pub mod ports;
pub mod scan;
pub mod step;
