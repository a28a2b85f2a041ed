//! returnsd: the returns-bench daemon.
pub mod domain;
pub mod label;
