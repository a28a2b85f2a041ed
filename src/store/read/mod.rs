//! The typed read models the edges and the views read: returns (list, detail, the
//! inspection queue, a return's snapshot, its customer), stock per zone, RTV notes. Each
//! takes any [`Read`](super::Read) handle.

pub mod day;
pub mod returns;
pub mod rtv;
pub mod stock;
