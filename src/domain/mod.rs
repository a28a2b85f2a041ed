//! The pure domain: vocabulary, scan grammar, policies and the returns state machine.
//! No I/O, no clock reads, no serde: time is passed in, wire types live at the edges.
pub mod ids;
pub mod kind;
pub mod policy;
pub mod scan;
