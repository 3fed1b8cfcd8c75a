//! Colour on the terminal, decided in one place.
//!
//! `anstream` decides whether stdout gets colour the way the command-line ecosystem agrees
//! on (the same crate clap uses for `--help`): only on a terminal, never with `NO_COLOR` set
//! (<https://no-color.org>) or `TERM=dumb`, and always with `CLICOLOR_FORCE`. The styles are
//! `anstyle` values, rendered to ANSI escapes only where colour is on.

use anstyle::{AnsiColor, Style};

/// Whether what the CLI prints on stdout may be coloured.
pub fn stdout_has_color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}

/// Timestamps and Lambda's own lines: dimmed.
pub const DIM: Style = Style::new().dimmed();
/// Headings of next steps.
pub const BOLD: Style = Style::new().bold();

/// The style of a log level word (`ERROR`, `WARN`, …).
pub fn level(level: &str) -> Style {
    match level {
        "ERROR" | "FATAL" | "CRITICAL" | "PANIC" => {
            Style::new().bold().fg_color(Some(AnsiColor::Red.into()))
        }
        "WARN" | "WARNING" => AnsiColor::Yellow.on_default(),
        "INFO" => AnsiColor::Green.on_default(),
        "DEBUG" => AnsiColor::Blue.on_default(),
        _ => DIM,
    }
}

/// A stable colour per name, so each function (and each request) keeps its colour.
pub fn of_name(name: &str) -> Style {
    const COLORS: [AnsiColor; 6] = [
        AnsiColor::Cyan,
        AnsiColor::Magenta,
        AnsiColor::Yellow,
        AnsiColor::Green,
        AnsiColor::Blue,
        AnsiColor::BrightCyan,
    ];
    // FNV-1a: stable across runs, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    COLORS[(hash % COLORS.len() as u64) as usize].on_default()
}

/// Appends `text` in `style` to `out` (escape, text, reset).
pub fn push(out: &mut String, style: Style, text: &str) {
    use std::fmt::Write as _;
    let _ = write!(out, "{style}{text}{style:#}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_render_as_ansi_escapes() {
        let mut out = String::new();
        push(&mut out, level("ERROR"), "ERROR");
        assert_eq!(out, "\x1b[1m\x1b[31mERROR\x1b[0m");
        let mut out = String::new();
        push(&mut out, DIM, "12:00");
        assert_eq!(out, "\x1b[2m12:00\x1b[0m");
        assert_eq!(of_name("api"), of_name("api"));
    }
}
