//! A progress bar on stderr (indicatif) for runs longer than about a second: only when stderr is
//! a terminal and the output is not JSON, so scripts and logs never see it. Single runs show the
//! share of AND gates done and the rate; batch jobs (`compare --values`, `run --inputs`) show
//! rows done, the rate in rows per second and the time left.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressDrawTarget, ProgressStyle};

/// What the bar counts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Unit {
    /// AND gates of a single run.
    Gates,
    /// Rows of a batch job: how many, and AND gates per row.
    Rows { rows: u64, and_per_row: u64 },
}

pub(crate) struct ProgressBar {
    enabled: bool,
    start: Instant,
    shown: bool,
    unit: Unit,
    bar: indicatif::ProgressBar,
}

impl ProgressBar {
    pub(crate) fn new(json: bool) -> Self {
        ProgressBar::with_unit(json, Unit::Gates)
    }

    pub(crate) fn with_unit(json: bool, unit: Unit) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let style = match unit {
            Unit::Gates => "[{bar:30}] {percent:>3}%  {msg}",
            Unit::Rows { .. } => {
                "[{bar:30}] {human_pos}/{human_len} rows  {msg}  {elapsed} elapsed, about {eta} left"
            }
        };
        if let Ok(style) = ProgressStyle::with_template(style) {
            bar.set_style(style.progress_chars("=> "));
        }
        ProgressBar {
            enabled: !json && std::io::stderr().is_terminal(),
            start: Instant::now(),
            shown: false,
            unit,
            bar,
        }
    }

    /// `done` of `total` AND gates.
    pub(crate) fn update(&mut self, done: u64, total: u64) {
        if !self.enabled || total == 0 {
            return;
        }
        if !self.shown {
            if self.start.elapsed() < Duration::from_secs(1) {
                return;
            }
            self.bar
                .set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            self.shown = true;
        }
        match self.unit {
            Unit::Gates => {
                self.bar.set_length(total);
                self.bar.set_position(done.min(total));
                let rate = done as f64 / self.start.elapsed().as_secs_f64() / 1e6;
                self.bar.set_message(format!("{rate:.1} M AND/s"));
            }
            Unit::Rows { rows, and_per_row } => {
                let position = (done / and_per_row.max(1)).min(rows);
                self.bar.set_length(rows);
                self.bar.set_position(position);
                let rate = position as f64 / self.start.elapsed().as_secs_f64();
                self.bar.set_message(format!("{rate:.0} rows/s"));
            }
        }
    }

    pub(crate) fn finish(&mut self) {
        if self.shown {
            self.bar.finish_and_clear();
            self.shown = false;
        }
    }
}

impl Drop for ProgressBar {
    fn drop(&mut self) {
        self.finish();
    }
}
