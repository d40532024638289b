//! The host's console: what happens, for a person; with `--json`, every datagram for a program
//! (on stdout, the person's lines then on stderr). Where the lines go is given, so that a test
//! reads them as the host would.

use std::io::Write;

use super::core::Status;
use crate::event::Event;
use crate::render::Style;

/// Where the announcer's lines go.
pub struct Console {
    json: bool,
    style: Style,
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    /// What is waiting for `out`. Lines are written once per turn of the event loop rather
    /// than one write each: a script announcing thousands of events a second would otherwise
    /// spend more time in write calls than in Lua (measured in docs/BENCHMARKS.md).
    pending: String,
    /// Where the host's full-screen view takes the game's status from, if it runs.
    status: Option<tokio::sync::watch::Sender<Status>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("json", &self.json)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// The process's stdout and stderr.
    pub fn stdio(json: bool, colour: bool) -> Console {
        Console::new(
            json,
            colour,
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
        )
    }

    /// A console writing to `out` (events, and with `json` the JSON lines) and `err` (with
    /// `json`, the lines for a person).
    pub fn new(
        json: bool,
        colour: bool,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Console {
        Console {
            json,
            style: Style {
                colour: colour && !json,
                ..Style::PLAIN
            },
            out,
            err,
            pending: String::new(),
            status: None,
        }
    }

    /// This console also hands the game's [`Status`] to `status` (the host's full-screen view).
    pub fn with_status(mut self, status: tokio::sync::watch::Sender<Status>) -> Console {
        self.status = Some(status);
        self
    }

    /// Whether anyone takes the game's status.
    pub fn wants_status(&self) -> bool {
        self.status.is_some()
    }

    /// The game's status now, for the host's view.
    pub fn status(&mut self, status: Status) {
        if let Some(sink) = &self.status {
            // The view may be gone (the terminal closed): the game goes on without it.
            let _ = sink.send(status);
        }
    }

    /// A line for the person running the announcer (stderr when stdout carries JSON).
    pub fn note(&mut self, line: &str) {
        if self.json {
            // A closed stderr must not stop the game.
            let _ = writeln!(self.err, "{line}");
            let _ = self.err.flush();
        } else {
            self.pending.push_str(line);
            self.pending.push('\n');
        }
    }

    /// An event, as a player sees it.
    pub fn show(&mut self, event: &Event) {
        let line = self.style.event(event);
        self.note(&line);
    }

    /// A JSON line, with `--json` only.
    pub fn json(&mut self, value: &serde_json::Value) {
        if self.json {
            self.pending.push_str(&value.to_string());
            self.pending.push('\n');
        }
    }

    /// Writes what is pending.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // A closed stdout (the host's terminal went away) must not stop the game.
        let _ = self.out.write_all(self.pending.as_bytes());
        let _ = self.out.flush();
        self.pending.clear();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.flush();
    }
}
