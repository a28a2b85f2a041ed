//! The daemon's logs, on standard error, in the form that fits where they go:
//!
//! - **the systemd journal** (`JOURNAL_STREAM` names the very stream standard error is,
//!   as systemd sets it for a service whose output goes to the journal): one plain line
//!   per event, led by its syslog priority (`<3>` error, `<4>` warning, `<6>` info, `<7>`
//!   debug, as `sd-daemon(3)` describes, so `journalctl -p warning` filters), without
//!   colour and without a timestamp (journald stamps every line itself);
//! - **a terminal**: colour and timestamps (`NO_COLOR` turns the colour off);
//! - **anything else** (a pipe, a file): the same lines with timestamps and never a colour
//!   code;
//! - **JSON lines** with `log.format = "json"`, for a collector.
//!
//! Fields are written `key=value` with values as they read (`http=127.0.0.1:8470`,
//! `bench=bench-1`): a string is quoted only when it holds a space, a quote, `=` or a
//! control character (then escaped, so a hostile value cannot forge a line). The level
//! comes from `log.level` or `RETURNSD_LOG`.

use std::ffi::OsStr;
use std::fmt;
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{self, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::Config;

/// Where the log lines go, and so their form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogForm {
    Json,
    /// Standard error is the journal's stream: priority prefix, no time, no colour.
    Journal,
    /// Standard error is a terminal: colour and time.
    Terminal,
    /// A pipe or a file: time, no colour.
    Plain,
}

impl LogForm {
    /// Decide from the config's `json`, `JOURNAL_STREAM` (`<device>:<inode>`), the device
    /// and inode standard error is, whether it is a terminal and whether `NO_COLOR` is set.
    pub fn choose(
        json: bool,
        journal_stream: Option<&OsStr>,
        stderr: Option<(u64, u64)>,
        terminal: bool,
        no_color: bool,
    ) -> LogForm {
        let journal = journal_stream
            .and_then(|v| v.to_str())
            .and_then(|v| v.split_once(':'))
            .and_then(|(dev, ino)| Some((dev.parse().ok()?, ino.parse().ok()?)));
        if json {
            LogForm::Json
        } else if journal.is_some() && journal == stderr {
            LogForm::Journal
        } else if terminal && !no_color {
            LogForm::Terminal
        } else {
            LogForm::Plain
        }
    }

    /// The form for this process's standard error.
    fn detect(json: bool) -> LogForm {
        let stderr = std::io::stderr();
        let id = (stderr.as_fd().try_clone_to_owned().ok())
            .and_then(|fd| std::fs::File::from(fd).metadata().ok())
            .map(|m| (m.dev(), m.ino()));
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        LogForm::choose(
            json,
            std::env::var_os("JOURNAL_STREAM").as_deref(),
            id,
            stderr.is_terminal(),
            no_color,
        )
    }
}

/// The daemon's logs: to standard error, `log.level` (or `RETURNSD_LOG`), in the form
/// [`LogForm`] picks.
pub fn init_tracing(cfg: &Config) {
    let filter =
        EnvFilter::try_from_env("RETURNSD_LOG").unwrap_or_else(|_| EnvFilter::new(&cfg.log.level));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match LogForm::detect(cfg.log.json) {
        LogForm::Json => b.json().init(),
        LogForm::Journal => b
            .with_ansi(false)
            .fmt_fields(PlainFields)
            .event_format(Journal(format().without_time().with_ansi(false)))
            .init(),
        LogForm::Terminal => b.with_ansi(true).fmt_fields(PlainFields).init(),
        LogForm::Plain => b.with_ansi(false).fmt_fields(PlainFields).init(),
    }
}

fn format() -> format::Format {
    format::Format::default()
}

/// The syslog priority journald reads from a line's `<N>` prefix.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// An event as a journal line: its priority, then the wrapped format.
struct Journal<F>(F);

impl<S, N, F> FormatEvent<S, N> for Journal<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Fields as `key=value`, values as they read (see the module's doc).
struct PlainFields;

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut v = FieldWriter {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct FieldWriter<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

/// Whether a value must be quoted to stay one field of one line.
fn needs_quotes(v: &str) -> bool {
    v.is_empty()
        || v.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=')
}

impl FieldWriter<'_> {
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let sep = if std::mem::take(&mut self.first) {
            ""
        } else {
            " "
        };
        let name = field.name();
        self.result = if name == "message" {
            // The event's text: a line of its own, control characters escaped.
            if value.chars().any(char::is_control) {
                write!(self.writer, "{sep}{}", value.escape_debug())
            } else {
                write!(self.writer, "{sep}{value}")
            }
        } else if needs_quotes(value) {
            write!(self.writer, "{sep}{name}={value:?}")
        } else {
            write!(self.writer, "{sep}{name}={value}")
        };
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal only when `JOURNAL_STREAM` names standard error itself (a variable
    /// inherited by a shell or a child writing elsewhere does not count); colour only on a
    /// terminal without `NO_COLOR`; JSON whenever the config asks.
    #[test]
    fn the_form_follows_where_stderr_goes() {
        let js = |s: &str| Some(OsStr::new(s).to_owned());
        let choose = |json, j: Option<std::ffi::OsString>, tty, no_color| {
            LogForm::choose(json, j.as_deref(), Some((12, 345)), tty, no_color)
        };
        assert_eq!(choose(false, js("12:345"), false, false), LogForm::Journal);
        assert_eq!(choose(false, js("12:345"), true, false), LogForm::Journal);
        assert_eq!(choose(false, js("12:999"), false, false), LogForm::Plain);
        assert_eq!(choose(false, js("12:999"), true, false), LogForm::Terminal);
        assert_eq!(choose(false, js("junk"), false, false), LogForm::Plain);
        assert_eq!(choose(false, None, true, false), LogForm::Terminal);
        assert_eq!(choose(false, None, true, true), LogForm::Plain);
        assert_eq!(choose(false, None, false, false), LogForm::Plain);
        assert_eq!(choose(true, js("12:345"), true, false), LogForm::Json);
        assert_eq!(
            LogForm::choose(false, js("12:345").as_deref(), None, false, false),
            LogForm::Plain
        );
    }

    /// Values are bare unless they would run into the next field or line.
    #[test]
    fn values_are_quoted_only_when_needed() {
        assert!(!needs_quotes("127.0.0.1:8470"));
        assert!(!needs_quotes("R-ST01-20261201-0001"));
        assert!(!needs_quotes("扫描"));
        for v in [
            "",
            "no such file",
            "a=b",
            "say \"hi\"",
            "x\u{1b}[31m",
            "a\nb",
        ] {
            assert!(needs_quotes(v), "{v:?}");
        }
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
    }
}
