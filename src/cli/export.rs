//! `returnsd export`: journal events since a time or a local date, in the contract's JSON
//! form (one event a line) or as CSV (the event's data as a JSON cell), to standard output
//! or a file; the count goes to standard error. Rows are written as they are read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::TimeZone;

use super::args::ExportFormat;
use super::error::CliError;
use super::setup::{existing_database, load_config};
use crate::format::{fmt_time, parse_time};
use crate::store::{self, JournalRow, StoreError};

/// The CSV header: the journal's columns.
const CSV_HEADER: [&str; 7] = [
    "seq",
    "id",
    "type",
    "occurred_at",
    "actor",
    "return_id",
    "data",
];

/// `returnsd export --since T --format F [--out FILE]`.
pub fn export(
    config: &Option<PathBuf>,
    since: &str,
    format: ExportFormat,
    out: Option<&Path>,
) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let conn = store::open_checked(existing_database(&cfg)?)?;
    let since = parse_since(&cfg.station.timezone, since)?;
    let sink: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(CliError::io(p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut n = 0;
    match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(sink);
            w.write_record(CSV_HEADER)?;
            store::offline::journal_since(&conn, &since, |row| {
                n += 1;
                w.write_record(csv_record(row))?;
                Ok::<_, CliError>(())
            })
            .map_err(sqlite_words)?;
            w.flush().map_err(CliError::Write)?;
        }
        ExportFormat::Jsonl => {
            let mut sink = sink;
            store::offline::journal_since(&conn, &since, |row| {
                n += 1;
                writeln!(sink, "{}", row.to_json()).map_err(CliError::Write)
            })
            .map_err(sqlite_words)?;
            sink.flush().map_err(CliError::Write)?;
        }
    }
    eprintln!("{n} events exported");
    Ok(ExitCode::SUCCESS)
}

/// A journal row as a CSV record, in [`CSV_HEADER`]'s order.
fn csv_record(row: JournalRow) -> [String; 7] {
    [
        row.seq.to_string(),
        row.id,
        row.ty,
        row.occurred_at,
        row.actor,
        row.return_id.unwrap_or_default(),
        row.data,
    ]
}

/// A failing query stops an export in SQLite's own words, as it always has.
fn sqlite_words(e: CliError) -> CliError {
    match e {
        CliError::Store(StoreError::Sql(e)) => CliError::Failed(e.to_string()),
        e => e,
    }
}

/// `--since`: an RFC 3339 time, or a date meaning 00:00 of it in the station's time zone;
/// in the contract's time format (which compares as text).
fn parse_since(tz: &chrono_tz::Tz, since: &str) -> Result<String, CliError> {
    if let Ok(t) = parse_time(since) {
        return Ok(fmt_time(t));
    }
    let d = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d").map_err(|_| {
        CliError::Usage(format!(
            "--since {since:?}: use an RFC 3339 time or YYYY-MM-DD"
        ))
    })?;
    let start = (d.and_hms_opt(0, 0, 0)).ok_or_else(|| CliError::Usage("bad date".into()))?;
    let t = tz
        .from_local_datetime(&start)
        .earliest()
        .ok_or_else(|| CliError::Usage(format!("--since {since:?}: no such local time")))?;
    Ok(fmt_time(t.with_timezone(&chrono::Utc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A date is 00:00 of that day in the station's time zone; a time is taken as given.
    #[test]
    fn since_is_a_time_or_a_local_midnight() {
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        assert_eq!(
            parse_since(&tz, "2026-01-02").unwrap(),
            "2026-01-01T16:00:00.000Z"
        );
        assert_eq!(
            parse_since(&tz, "2026-01-02T03:04:05+08:00").unwrap(),
            "2026-01-01T19:04:05.000Z"
        );
        assert_eq!(
            parse_since(&tz, "yesterday").unwrap_err().to_string(),
            "--since \"yesterday\": use an RFC 3339 time or YYYY-MM-DD"
        );
    }
}
