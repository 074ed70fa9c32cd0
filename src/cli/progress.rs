//! A progress bar on stderr for runs longer than about a second: only when stderr is a
//! terminal and the output is not JSON, so scripts and logs never see it.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Draws `[=====>     ] 45%  12.3 M AND/s` on stderr, at most ten times a second, starting one
/// second after creation.
pub(crate) struct ProgressBar {
    enabled: bool,
    start: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl ProgressBar {
    pub(crate) fn new(json: bool) -> Self {
        ProgressBar {
            enabled: !json && std::io::stderr().is_terminal(),
            start: Instant::now(),
            last: None,
            drawn: false,
        }
    }

    pub(crate) fn update(&mut self, done: u64, total: u64) {
        if !self.enabled || total == 0 || self.start.elapsed() < Duration::from_secs(1) {
            return;
        }
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
            && done < total
        {
            return;
        }
        self.last = Some(Instant::now());
        let fraction = (done as f64 / total as f64).clamp(0.0, 1.0);
        let width = 30;
        let filled = (fraction * width as f64) as usize;
        let bar: String = (0..width)
            .map(|i| {
                if i < filled {
                    '='
                } else if i == filled {
                    '>'
                } else {
                    ' '
                }
            })
            .collect();
        let rate = done as f64 / self.start.elapsed().as_secs_f64() / 1e6;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{bar}] {:3.0}%  {rate:.1} M AND/s ",
            fraction * 100.0
        );
        let _ = err.flush();
        self.drawn = true;
    }

    pub(crate) fn finish(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{:60}\r", "");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

impl Drop for ProgressBar {
    fn drop(&mut self) {
        self.finish();
    }
}
