//! `[scan]`: what a scan may be — the waybill patterns, the longest code, the double-read
//! window — and the bench a scan without one belongs to.

use super::ctx::Ctx;
use super::raw::RawScan;
use crate::domain::ids::StationId;
use crate::domain::scan::{CourierPattern, ScanGrammar};

/// The validated `[scan]` table.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// The same code from the same bench within this many ms is one trigger pull read
    /// twice: dropped, so a double read never books a parcel twice (0: off).
    pub double_read_window_ms: u64,
    /// Longest accepted scan in bytes: a runaway scanner or a pasted document is refused
    /// (and recorded) instead of filling the journal.
    pub max_len: usize,
    /// The waybill patterns that tell a courier's parcel from any other code: the built-in
    /// couriers unless replaced, plus the station's own.
    pub couriers: Vec<CourierPattern>,
    /// The bench of `returnsd scan` and stdin scans that name none, so a one-bench station
    /// need not say it every time.
    pub default_bench: String,
}

impl RawScan {
    /// Validate `[scan]`, including that the couriers make a working scan grammar.
    pub fn validate(&self, ctx: &mut Ctx) -> ScanConfig {
        let double_read_window_ms = ctx.within(
            "scan.double_read_window_ms",
            self.double_read_window_ms.unwrap_or(800),
            0..=10_000,
            "must be at most 10000 (10 s); 0 turns suppression off",
        );
        let max_len = ctx.within(
            "scan.max_len",
            self.max_len.unwrap_or(4096),
            16..=65_536,
            "must be 16 to 65536 bytes",
        );
        let mut couriers = if self.replace_default_couriers {
            Vec::new()
        } else {
            ScanGrammar::default_couriers()
        };
        for (i, c) in self.couriers.iter().enumerate() {
            let (Some(name), Some(pattern)) = (&c.name, &c.pattern) else {
                for (set, k) in [(c.name.is_some(), "name"), (c.pattern.is_some(), "pattern")] {
                    if !set {
                        ctx.missing(&format!("scan.couriers[{i}].{k}"));
                    }
                }
                continue;
            };
            if let Err(e) = regex::Regex::new(pattern) {
                ctx.bad(
                    &format!("scan.couriers[{i}].pattern"),
                    format!("not a valid regular expression: {e}"),
                );
            }
            couriers.push(CourierPattern {
                name: name.clone(),
                pattern: pattern.clone(),
            });
        }
        if let Err(e) = ScanGrammar::new(&couriers, max_len) {
            ctx.bad("scan.couriers", format!("{e:?}"));
        }
        let default_bench = self
            .default_bench
            .clone()
            .unwrap_or_else(|| "bench-1".into());
        // A bench name follows the station id's rule: 1 to 64 of A-Z a-z 0-9 _ -.
        if StationId::parse(&default_bench).is_err() {
            ctx.bad("scan.default_bench", "must be 1 to 64 of A-Z a-z 0-9 _ -");
        }
        ScanConfig {
            double_read_window_ms,
            max_len,
            couriers,
            default_bench,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawCourier;

    fn courier(name: &str, pattern: &str) -> RawCourier {
        RawCourier {
            name: Some(name.into()),
            pattern: Some(pattern.into()),
        }
    }

    /// The defaults keep the built-in couriers; extra ones are added, or replace them.
    #[test]
    fn defaults_and_couriers() {
        let mut ctx = Ctx::test();
        let s = RawScan::default().validate(&mut ctx);
        assert_eq!((s.double_read_window_ms, s.max_len), (800, 4096));
        assert_eq!(s.default_bench, "bench-1");
        let builtin = ScanGrammar::default_couriers().len();
        assert_eq!(s.couriers.len(), builtin);
        let s = RawScan {
            couriers: vec![courier("DBL", "^DPK\\d{12}$")],
            ..RawScan::default()
        }
        .validate(&mut ctx);
        assert_eq!(s.couriers.len(), builtin + 1);
        let s = RawScan {
            replace_default_couriers: true,
            couriers: vec![courier("DBL", "^DPK\\d{12}$")],
            double_read_window_ms: Some(0),
            ..RawScan::default()
        }
        .validate(&mut ctx);
        assert_eq!(s.couriers.len(), 1);
        assert_eq!(s.double_read_window_ms, 0);
        assert!(ctx.reported().is_empty());
    }

    /// Each bad value is reported with its key.
    #[test]
    fn bad_values() {
        let mut ctx = Ctx::test();
        RawScan {
            double_read_window_ms: Some(10_001),
            max_len: Some(15),
            couriers: vec![
                courier("X", "(["),
                RawCourier {
                    name: Some("Y".into()),
                    pattern: None,
                },
            ],
            default_bench: Some("bench 1".into()),
            ..RawScan::default()
        }
        .validate(&mut ctx);
        let got = ctx.reported();
        assert_eq!(got.len(), 6, "{got:?}");
        assert_eq!(
            got[..2],
            [
                "scan.double_read_window_ms: must be at most 10000 (10 s); 0 turns suppression off",
                "scan.max_len: must be 16 to 65536 bytes",
            ]
        );
        assert!(got[2].starts_with("scan.couriers[0].pattern: not a valid regular expression: "));
        assert_eq!(got[3], "scan.couriers[1].pattern: missing field `pattern`");
        assert!(got[4].starts_with("scan.couriers: "), "{got:?}");
        assert_eq!(
            got[5],
            "scan.default_bench: must be 1 to 64 of A-Z a-z 0-9 _ -"
        );
    }
}
