//! `[log]`: how much the daemon logs, and in which form.

use super::ctx::Ctx;
use super::raw::RawLog;

/// The validated `[log]` table.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The `tracing` filter (`info`, `returnsd=debug`, …); `RETURNSD_LOG` overrides it, so
    /// one run can be made verbose without editing the config.
    pub level: String,
    /// JSON lines for a log collector instead of text for a person reading the journal.
    pub json: bool,
}

impl RawLog {
    /// Validate `[log]`.
    pub fn validate(&self, ctx: &mut Ctx) -> LogConfig {
        let level = self.level.clone().unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
            ctx.bad(
                "log.level",
                format!("{level:?} is not a log filter (e.g. info, debug, returnsd=debug)"),
            );
        }
        let json = match self.format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                ctx.bad("log.format", format!("{other:?}: use \"text\" or \"json\""));
                false
            }
        };
        LogConfig { level, json }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text at info by default; bad values are reported with their keys.
    #[test]
    fn defaults_and_bad_values() {
        let mut ctx = Ctx::test();
        let l = RawLog::default().validate(&mut ctx);
        assert_eq!((l.level.as_str(), l.json), ("info", false));
        let l = RawLog {
            level: Some("returnsd=debug".into()),
            format: Some("json".into()),
        }
        .validate(&mut ctx);
        assert_eq!((l.level.as_str(), l.json), ("returnsd=debug", true));
        assert!(ctx.reported().is_empty());
        RawLog {
            level: Some("[".into()),
            format: Some("xml".into()),
        }
        .validate(&mut ctx);
        assert_eq!(
            ctx.reported(),
            [
                "log.level: \"[\" is not a log filter (e.g. info, debug, returnsd=debug)",
                "log.format: \"xml\": use \"text\" or \"json\"",
            ]
        );
    }
}
