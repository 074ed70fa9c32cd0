//! Row files (`compare --values`, `run --inputs`): one row per line, blank lines and `#`
//! comments skipped, `-` for standard input. A file is read twice (once to check every row and
//! count them before the peer is involved, once during the session); standard input is read
//! once and kept.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The rows of a file: `(line number, text without comment)` for every line with content.
pub(crate) struct RowLines {
    name: String,
    lines: Box<dyn Iterator<Item = std::io::Result<String>> + Send>,
    line_no: u64,
}

static STDIN: OnceLock<std::result::Result<Vec<String>, String>> = OnceLock::new();

/// Opens a row file; `-` is standard input.
pub(crate) fn open_rows(path: &Path) -> Result<RowLines> {
    let name = path.display().to_string();
    if path == Path::new("-") {
        let lines = STDIN
            .get_or_init(|| {
                std::io::stdin()
                    .lock()
                    .lines()
                    .collect::<std::io::Result<Vec<String>>>()
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| Error::arg(format!("reading standard input: {e}")))?;
        return Ok(RowLines {
            name: "standard input".into(),
            lines: Box::new(lines.into_iter().map(Ok)),
            line_no: 0,
        });
    }
    if path.is_dir() {
        return Err(Error::arg(format!(
            "{name} is a directory, not a file of rows"
        )));
    }
    let file =
        std::fs::File::open(path).map_err(|e| Error::arg(format!("cannot open {name}: {e}")))?;
    Ok(RowLines {
        name,
        lines: Box::new(BufReader::with_capacity(1 << 16, file).lines()),
        line_no: 0,
    })
}

impl RowLines {
    /// The file's name for messages.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Iterator for RowLines {
    type Item = Result<(u64, String)>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = self.lines.next()?;
            self.line_no += 1;
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    return Some(Err(Error::arg(format!(
                        "{}: line {}: {e}",
                        self.name, self.line_no
                    ))));
                }
            };
            let content = line.split('#').next().unwrap_or("").trim();
            if !content.is_empty() {
                return Some(Ok((self.line_no, content.to_string())));
            }
        }
    }
}
