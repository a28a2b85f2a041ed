//! `[station]`: who this station is and whose clock and language it keeps.

use super::ctx::Ctx;
use super::raw::RawStation;
use crate::domain::ids::StationId;

/// The validated `[station]` table.
#[derive(Debug, Clone)]
pub struct StationConfig {
    /// Printed in every return id (`R-<station>-…`) and sent with every event, so returns
    /// and events from different stations never collide at the central.
    pub id: StationId,
    /// The warehouse's local time: return numbering per day, the 7-day window (from 00:00
    /// of the day after signing) and exports by date follow it, not UTC.
    pub timezone: chrono_tz::Tz,
    /// The language of CLI feedback and the kiosk's default (`zh-CN` or `en`), for the
    /// people at the bench.
    pub language: String,
}

impl RawStation {
    /// Validate `[station]`; `None` when the id is missing or bad (reported).
    pub fn validate(&self, ctx: &mut Ctx) -> Option<StationConfig> {
        let id = match self.id.as_deref().map(StationId::parse) {
            None => {
                ctx.missing("station.id");
                None
            }
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => {
                ctx.bad(
                    "station.id",
                    format!(
                        "{:?} is not a station id: use 1 to 64 of A-Z a-z 0-9 _ -",
                        self.id.as_deref().unwrap_or_default()
                    ),
                );
                None
            }
        };
        let tz_name = self.timezone.as_deref().unwrap_or("Asia/Shanghai");
        let timezone = tz_name.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
            ctx.bad(
                "station.timezone",
                format!("{tz_name:?} is not an IANA time zone (e.g. Asia/Shanghai)"),
            );
            chrono_tz::Tz::Asia__Shanghai
        });
        let language = self.language.clone().unwrap_or_else(|| "zh-CN".into());
        if language != "zh-CN" && language != "en" {
            ctx.bad(
                "station.language",
                format!("{language:?} is not supported: use \"zh-CN\" or \"en\""),
            );
        }
        Some(StationConfig {
            id: id?,
            timezone,
            language,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: RawStation) -> (Option<StationConfig>, Vec<String>) {
        let mut ctx = Ctx::test();
        let s = raw.validate(&mut ctx);
        (s, ctx.reported())
    }

    /// Only the id is required; the zone is Shanghai's and the language Chinese.
    #[test]
    fn defaults() {
        let (s, problems) = check(RawStation {
            id: Some("ST01".into()),
            ..RawStation::default()
        });
        let s = s.unwrap();
        assert!(problems.is_empty());
        assert_eq!(s.id.as_str(), "ST01");
        assert_eq!(s.timezone, chrono_tz::Tz::Asia__Shanghai);
        assert_eq!(s.language, "zh-CN");
        let (s, _) = check(RawStation {
            id: Some("a_B-9".into()),
            timezone: Some("Europe/Berlin".into()),
            language: Some("en".into()),
        });
        let s = s.unwrap();
        assert_eq!(
            (s.timezone, s.language.as_str()),
            (chrono_tz::Tz::Europe__Berlin, "en")
        );
    }

    /// Each bad value is reported with its key, all of them at once.
    #[test]
    fn bad_values() {
        let (s, problems) = check(RawStation {
            id: Some("ST 01".into()),
            timezone: Some("Mars/Olympus".into()),
            language: Some("fr".into()),
        });
        assert!(s.is_none());
        assert_eq!(
            problems,
            [
                "station.id: \"ST 01\" is not a station id: use 1 to 64 of A-Z a-z 0-9 _ -",
                "station.timezone: \"Mars/Olympus\" is not an IANA time zone (e.g. Asia/Shanghai)",
                "station.language: \"fr\" is not supported: use \"zh-CN\" or \"en\"",
            ]
        );
        let (s, problems) = check(RawStation::default());
        assert!(s.is_none());
        assert_eq!(problems, ["station.id: missing field `id`"]);
    }
}
