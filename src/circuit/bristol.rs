//! Bristol circuit files: a strict streaming parser for both dialects and a Bristol Fashion writer.
//!
//! The grammar and the rules enforced are those of `shared/bristol/README.md` §1 (Bristol Fashion
//! as published by Archer, Bogdanov, Lindell et al. with the extended `MAND` gate, and the older
//! Bristol Format of Tillich and Smart). The parser reads line by line from any [`BufRead`], so a
//! large file is never held in memory as text; its cost is linear in the file's size and its memory
//! is the gate list (none when streaming, [`parse_into`]) plus the set of written wires, a few runs
//! of wire numbers for files that write their wires in order. Every rejection carries the 1-based line and column and
//! says what was expected.
//!
//! One file of about 1100 lines, tests included: the reader of both dialects is one line-driven
//! state machine (header, I/O lines, gate lines, the dialect hints), and the writer beside it is
//! its inverse, tested against it.

use std::fmt;
use std::io::{BufRead, Write};
use std::path::Path;

use crate::circuit::ir::{Circuit, Gate, Group, WireId};
use crate::error::{Error, Result};

/// The two Bristol dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Bristol Fashion (any number of input and output groups; EQ, EQW, MAND).
    Fashion,
    /// The old Bristol Format (at most two inputs, one output; XOR, AND, INV).
    Bristol,
}

impl Dialect {
    /// The name used on the command line and in JSON: `fashion` or `bristol`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Fashion => "fashion",
            Dialect::Bristol => "bristol",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Fashion => "Bristol Fashion",
            Dialect::Bristol => "Bristol Format (old)",
        })
    }
}

/// Which dialect to expect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FormatChoice {
    /// Decide from the file: in the old format line 3 is already a gate line.
    #[default]
    Auto,
    /// Require Bristol Fashion.
    Fashion,
    /// Require the old Bristol Format.
    Bristol,
}

impl std::str::FromStr for FormatChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(FormatChoice::Auto),
            "fashion" => Ok(FormatChoice::Fashion),
            // "bristol" is the old name of the old format, kept as an alias.
            "old" | "bristol" => Ok(FormatChoice::Bristol),
            other => Err(Error::arg(format!(
                "unknown circuit format '{other}': expected auto, fashion or old"
            ))),
        }
    }
}

/// Ceilings checked before anything is allocated, so that a header declaring 2^40 wires is an
/// error and not an out-of-memory abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted wire count (`--max-wires` on the command line).
    pub max_wires: u64,
    /// Largest accepted gate-line count (`--max-gates` on the command line).
    pub max_gates: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_wires: 1 << 28,
            max_gates: 1 << 28,
        }
    }
}

/// A parsed file: the circuit plus what the file said about itself.
#[derive(Clone, Debug)]
pub struct ParsedCircuit {
    /// The circuit (MAND gates expanded into ANDs).
    pub circuit: Circuit,
    /// The dialect the file was read as.
    pub dialect: Dialect,
    /// The number of gate lines (the header's gate count; a MAND line counts once).
    pub gate_lines: u64,
    /// How many of those lines are MAND gates.
    pub mand_lines: u64,
}

/// Longest line accepted; real files have lines of a few dozen bytes (a wide MAND a few KiB).
const MAX_LINE_BYTES: usize = 16 << 20;

/// Hint appended to errors when auto-detection chose the old format although line 2 would also
/// fit Bristol Fashion.
const OLD_FORMAT_HINT: &str = " [auto-detected the old Bristol Format because line 3 is a gate \
    line; line 2 would also fit a Bristol Fashion input line, so this may be a Bristol Fashion \
    file whose output line is missing; --format fashion forces that reading]";

/// Hint appended to errors when auto-detection chose Bristol Fashion although line 2 would also
/// fit the old format's "input bits, input bits, output bits".
const FASHION_HINT: &str = " [auto-detected Bristol Fashion because line 3 is not a gate line; \
    line 2 would also fit the old Bristol Format, so this may be an old-format file with an \
    extra line; --format old forces that reading]";

/// Hint appended to errors when `--format old` was forced on a file whose line 3 is not a gate
/// line (as in Bristol Fashion, where it describes the outputs).
const FORCED_OLD_HINT: &str = " [the file looks like Bristol Fashion: line 3 describes outputs rather than a gate; pass --format fashion, or leave --format at auto]";

/// Hint appended to errors when `--format fashion` was forced on a file whose line 3 is a gate
/// line (as in the old Bristol Format).
const FORCED_FASHION_HINT: &str = " [the file looks like the old Bristol Format: line 3 is a gate line; pass --format old, or leave --format at auto]";

/// Parses a circuit file.
pub fn parse_file(path: &Path, format: FormatChoice, limits: &Limits) -> Result<ParsedCircuit> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot open circuit file {}", path.display()), e))?;
    parse(
        std::io::BufReader::with_capacity(1 << 16, file),
        format,
        limits,
    )
}

/// Parses a circuit from text (tests, embedded circuits).
pub fn parse_str(text: &str, format: FormatChoice) -> Result<ParsedCircuit> {
    parse(text.as_bytes(), format, &Limits::default())
}

/// Parses a circuit from a reader, streaming line by line.
pub fn parse<R: BufRead>(
    reader: R,
    format: FormatChoice,
    limits: &Limits,
) -> Result<ParsedCircuit> {
    let mut gates = Vec::new();
    let header = parse_into(reader, format, limits, &mut gates)?;
    let first_output = header.num_wires - header.output_widths.iter().sum::<u32>();
    let output_wires: Vec<WireId> = (first_output..header.num_wires).collect();
    let group = |prefix: &str, widths: &[u32]| -> Vec<Group> {
        widths
            .iter()
            .enumerate()
            .map(|(i, &w)| Group::new(format!("{prefix}{i}"), w))
            .collect()
    };
    let circuit = Circuit::new_unchecked(
        header.num_wires,
        group("in", &header.input_widths),
        group("out", &header.output_widths),
        gates,
        output_wires,
    );
    Ok(ParsedCircuit {
        circuit,
        dialect: header.dialect,
        gate_lines: header.gate_lines,
        mand_lines: header.mand_lines,
    })
}

/// Where the parser puts the gates it reads: a vector, or a spool on disk for circuits too long
/// to hold ([`crate::compile::stream`]).
pub trait GateSink {
    /// Takes the next gate (a MAND line gives several).
    fn push(&mut self, gate: Gate) -> Result<()>;
}

impl GateSink for Vec<Gate> {
    fn push(&mut self, gate: Gate) -> Result<()> {
        Vec::push(self, gate);
        Ok(())
    }
}

/// What a file says about itself besides its gates. The outputs are its last wires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The dialect the file was read as.
    pub dialect: Dialect,
    /// Wires the header declares.
    pub num_wires: u32,
    /// Input group widths.
    pub input_widths: Vec<u32>,
    /// Output group widths.
    pub output_widths: Vec<u32>,
    /// Gate lines (a MAND line counts once).
    pub gate_lines: u64,
    /// How many of those lines are MAND gates.
    pub mand_lines: u64,
    /// Gates handed to the sink (MAND lines expanded).
    pub gates: u64,
}

/// Parses a circuit from a reader into `sink`, with every check of [`parse`] (the same errors at
/// the same line and column), holding no gates: only the written wires as runs (a bit per wire
/// for a file whose writes scatter).
pub fn parse_into<R: BufRead>(
    reader: R,
    format: FormatChoice,
    limits: &Limits,
    sink: &mut impl GateSink,
) -> Result<Header> {
    let mut lines = Lines::new(reader);
    Parser::default().run(&mut lines, format, limits, sink)
}

/// Writes a circuit as Bristol Fashion. A circuit whose outputs are not its last wires (one
/// built with the builder, say) is renumbered first; a parsed Bristol file is written with its own
/// wire numbers, so parse -> write -> parse gives the same circuit.
pub fn write_fashion<W: Write>(circuit: &Circuit, out: W) -> std::io::Result<()> {
    let laid_out = circuit.to_bristol_layout();
    let c = &laid_out;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    writeln!(out, "{} {}", c.gates().len(), c.num_wires())?;
    let widths = |groups: &[Group]| {
        let mut s = groups.len().to_string();
        for g in groups {
            s.push(' ');
            s.push_str(&g.width.to_string());
        }
        s
    };
    writeln!(out, "{}", widths(c.inputs()))?;
    writeln!(out, "{}", widths(c.outputs()))?;
    writeln!(out)?;
    for gate in c.gates() {
        match *gate {
            Gate::Xor { a, b, out: o } => writeln!(out, "2 1 {a} {b} {o} XOR")?,
            Gate::And { a, b, out: o } => writeln!(out, "2 1 {a} {b} {o} AND")?,
            Gate::Inv { a, out: o } => writeln!(out, "1 1 {a} {o} INV")?,
            Gate::Const { value, out: o } => writeln!(out, "1 1 {} {o} EQ", u8::from(value))?,
            Gate::Copy { a, out: o } => writeln!(out, "1 1 {a} {o} EQW")?,
        }
    }
    out.flush()
}

/// Writes a circuit as Bristol Fashion into a string.
pub fn to_fashion_string(circuit: &Circuit) -> String {
    let mut buf = Vec::new();
    write_fashion(circuit, &mut buf).expect("writing to a Vec cannot fail");
    String::from_utf8(buf).expect("the writer emits ASCII")
}

/// A line source that skips blank lines, counts physical lines and splits tokens.
struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    /// Physical number of the current line (1-based).
    line_no: u64,
    /// Token byte ranges in `buf`.
    tokens: Vec<(usize, usize)>,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Self {
        Lines {
            reader,
            buf: Vec::with_capacity(256),
            line_no: 0,
            tokens: Vec::with_capacity(16),
        }
    }

    /// Reads one physical line into `buf` (without its `\n`). Returns false at end of input.
    fn read_physical(&mut self) -> Result<bool> {
        self.buf.clear();
        let mut any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("cannot read circuit", e)),
            };
            if available.is_empty() {
                if any {
                    self.line_no += 1;
                }
                return Ok(any);
            }
            any = true;
            if let Some(i) = available.iter().position(|&b| b == b'\n') {
                self.buf.extend_from_slice(&available[..i]);
                self.reader.consume(i + 1);
                self.line_no += 1;
                return Ok(true);
            }
            let n = available.len();
            self.buf.extend_from_slice(available);
            self.reader.consume(n);
            if self.buf.len() > MAX_LINE_BYTES {
                return Err(Error::parse(
                    self.line_no + 1,
                    1,
                    format!(
                        "line longer than {MAX_LINE_BYTES} bytes; this is not a Bristol circuit"
                    ),
                ));
            }
        }
    }

    /// Advances to the next line with at least one token. Returns false at end of input.
    fn next_nonblank(&mut self) -> Result<bool> {
        loop {
            if !self.read_physical()? {
                self.tokens.clear();
                return Ok(false);
            }
            self.tokenize();
            if !self.tokens.is_empty() {
                return Ok(true);
            }
        }
    }

    fn tokenize(&mut self) {
        self.tokens.clear();
        let b = &self.buf;
        let mut i = 0;
        while i < b.len() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i > start {
                self.tokens.push((start, i));
            }
        }
    }

    fn token(&self, index: usize) -> &[u8] {
        let (s, e) = self.tokens[index];
        &self.buf[s..e]
    }

    fn column(&self, index: usize) -> u64 {
        self.tokens[index].0 as u64 + 1
    }
}

/// A token shown in an error message: at most 40 characters, non-printables escaped.
fn show(token: &[u8]) -> String {
    let text = String::from_utf8_lossy(&token[..token.len().min(40)]);
    let mut s: String = text.chars().flat_map(char::escape_debug).collect();
    if token.len() > 40 {
        s.push('…');
    }
    s
}

/// A non-negative decimal integer, or None.
fn parse_decimal(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in token {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

fn is_numeric(token: &[u8]) -> bool {
    !token.is_empty() && token.iter().all(u8::is_ascii_digit)
}

/// The set of wires written so far. Files write wires in runs (usually one: gate k writes wire
/// `n_in + k`), so the set is kept as sorted, disjoint runs, a few bytes whatever the circuit's
/// length; a file whose writes scatter into more than [`MAX_RUNS`] runs switches to a bit set
/// (one bit per wire, grown only as far as the wires written).
#[derive(Default)]
struct WireSet {
    /// Sorted, disjoint, non-adjacent `[start, end)` runs, while there are few.
    runs: Vec<(u64, u64)>,
    /// The bit set, once the runs became too many.
    words: Option<Vec<u64>>,
}

/// Runs kept before the set becomes a bit set (64 KiB of runs).
const MAX_RUNS: usize = 1 << 12;

impl WireSet {
    fn contains(&self, w: u64) -> bool {
        if let Some(words) = &self.words {
            return words
                .get((w / 64) as usize)
                .is_some_and(|word| word >> (w % 64) & 1 == 1);
        }
        let i = self.runs.partition_point(|r| r.1 <= w);
        self.runs.get(i).is_some_and(|r| r.0 <= w)
    }

    /// Adds `w`, which the set does not hold.
    fn insert(&mut self, w: u64) {
        if let Some(words) = &mut self.words {
            let index = (w / 64) as usize;
            if index >= words.len() {
                words.resize((index + 1).next_power_of_two(), 0);
            }
            words[index] |= 1 << (w % 64);
            return;
        }
        // The common case: the next wire after the last run.
        if let Some(last) = self.runs.last_mut()
            && last.1 == w
        {
            last.1 += 1;
            return;
        }
        let i = self.runs.partition_point(|r| r.1 < w);
        if i < self.runs.len() && self.runs[i].1 == w {
            // Extends run i, perhaps up to run i + 1.
            self.runs[i].1 = w + 1;
            if i + 1 < self.runs.len() && self.runs[i + 1].0 == w + 1 {
                self.runs[i].1 = self.runs[i + 1].1;
                self.runs.remove(i + 1);
            }
        } else if i < self.runs.len() && self.runs[i].0 == w + 1 {
            self.runs[i].0 = w;
        } else {
            self.runs.insert(i, (w, w + 1));
            if self.runs.len() > MAX_RUNS {
                let top = self.runs.last().map_or(0, |r| r.1);
                let mut words = vec![0u64; top.div_ceil(64) as usize];
                for &(a, b) in &self.runs {
                    for x in a..b {
                        words[(x / 64) as usize] |= 1 << (x % 64);
                    }
                }
                self.runs = Vec::new();
                self.words = Some(words);
            }
        }
    }
}

#[derive(Default)]
struct Parser {
    /// Appended to every error after auto-detection guessed the old format on a file whose line 2
    /// would also fit Bristol Fashion.
    hint: &'static str,
}

impl Parser {
    fn err(&self, line: u64, column: u64, message: impl Into<String>) -> Error {
        let mut message = message.into();
        message.push_str(self.hint);
        Error::parse(line, column, message)
    }

    fn number<R: BufRead>(&self, lines: &Lines<R>, index: usize, what: &str) -> Result<u64> {
        let token = lines.token(index);
        parse_decimal(token).ok_or_else(|| {
            self.err(
                lines.line_no,
                lines.column(index),
                format!(
                    "expected a non-negative decimal integer for {what}, got '{}'",
                    show(token)
                ),
            )
        })
    }

    fn run<R: BufRead>(
        &mut self,
        lines: &mut Lines<R>,
        format: FormatChoice,
        limits: &Limits,
        sink: &mut impl GateSink,
    ) -> Result<Header> {
        let too_short = |p: &Self, lines: &Lines<R>| {
            let what = match lines.line_no {
                0 => "the file is empty".to_string(),
                n => format!("the file ends after line {n}"),
            };
            p.err(
                lines.line_no + 1,
                1,
                format!(
                    "file too short: {what}, but a circuit needs a header line, the input/output \
                     description and gate lines"
                ),
            )
        };

        // Line 1: "G W".
        if !lines.next_nonblank()? {
            return Err(too_short(self, lines));
        }
        let header_line = lines.line_no;
        if lines.tokens.len() != 2 {
            return Err(self.err(
                header_line,
                1,
                format!(
                    "header must be 'ngates nwires' (2 integers), got {} token(s)",
                    lines.tokens.len()
                ),
            ));
        }
        let num_gates = self.number(lines, 0, "number of gates")?;
        let num_wires = self.number(lines, 1, "number of wires")?;
        if num_gates > limits.max_gates {
            return Err(Error::LimitExceeded(format!(
                "line {header_line}: the header declares {num_gates} gates, more than the limit of {} \
                 (raise it with --max-gates)",
                limits.max_gates
            )));
        }
        if num_wires > limits.max_wires.min(u64::from(u32::MAX)) {
            return Err(Error::LimitExceeded(format!(
                "line {header_line}: the header declares {num_wires} wires, more than the limit of {} \
                 (raise it with --max-wires, at most {})",
                limits.max_wires.min(u64::from(u32::MAX)),
                u32::MAX
            )));
        }

        // Line 2 (and 3): the I/O description, which also tells the dialect.
        if !lines.next_nonblank()? {
            return Err(too_short(self, lines));
        }
        let line2 = lines.line_no;
        let line2_tokens: Vec<Vec<u8>> = (0..lines.tokens.len())
            .map(|i| lines.token(i).to_vec())
            .collect();
        let line2_columns: Vec<u64> = (0..lines.tokens.len()).map(|i| lines.column(i)).collect();
        let has_line3 = lines.next_nonblank()?;
        let line3_is_gate = has_line3 && !is_numeric(lines.token(lines.tokens.len() - 1));
        let dialect = match format {
            FormatChoice::Fashion => Dialect::Fashion,
            FormatChoice::Bristol => Dialect::Bristol,
            FormatChoice::Auto => {
                if !has_line3 {
                    if num_gates == 0 {
                        // Point at line 2, the last line: the place a gate line would follow.
                        return Err(self.err(
                            line2,
                            0,
                            "cannot tell the dialect: the file has two lines and no gates; \
                             pass --format fashion or --format old",
                        ));
                    }
                    return Err(too_short(self, lines));
                }
                if line3_is_gate {
                    Dialect::Bristol
                } else {
                    Dialect::Fashion
                }
            }
        };
        if format == FormatChoice::Bristol && has_line3 && !line3_is_gate {
            self.hint = FORCED_OLD_HINT;
        }
        if format == FormatChoice::Fashion && line3_is_gate {
            self.hint = FORCED_FASHION_HINT;
        }
        if format == FormatChoice::Auto && dialect == Dialect::Bristol {
            let fits_fashion = parse_decimal(&line2_tokens[0])
                .is_some_and(|n| n + 1 == line2_tokens.len() as u64 && n > 0);
            if fits_fashion {
                self.hint = OLD_FORMAT_HINT;
            }
        }
        if format == FormatChoice::Auto && dialect == Dialect::Fashion {
            // Three numbers that do not read as a Fashion input line ("n w1 .. wn").
            let fits_old = line2_tokens.len() == 3
                && line2_tokens.iter().all(|t| parse_decimal(t).is_some())
                && parse_decimal(&line2_tokens[0]) != Some(2);
            if fits_old {
                self.hint = FASHION_HINT;
            }
        }

        let parse_num = |p: &Self, i: usize, what: &str| -> Result<u64> {
            parse_decimal(&line2_tokens[i]).ok_or_else(|| {
                p.err(
                    line2,
                    line2_columns[i],
                    format!(
                        "expected a non-negative decimal integer for {what}, got '{}'",
                        show(&line2_tokens[i])
                    ),
                )
            })
        };

        let (input_widths, output_widths, output_line, output_column, gates_pending);
        match dialect {
            Dialect::Fashion => {
                let count = parse_num(self, 0, "the number of input values")?;
                if count + 1 != line2_tokens.len() as u64 {
                    return Err(self.err(
                        line2,
                        1,
                        format!(
                            "input line says {count} input value(s) but lists {} size(s) \
                             (an old Bristol Format file has 'n1 n2 nout' here)",
                            line2_tokens.len() - 1
                        ),
                    ));
                }
                let mut widths = Vec::with_capacity(line2_tokens.len() - 1);
                for (i, &column) in line2_columns.iter().enumerate().skip(1) {
                    let w = parse_num(self, i, "an input width")?;
                    if w == 0 {
                        return Err(self.err(line2, column, "input group of zero wires"));
                    }
                    widths.push(w);
                }
                input_widths = widths;
                if !has_line3 {
                    return Err(too_short(self, lines));
                }
                output_line = lines.line_no;
                output_column = lines.column(0);
                let count = self.number(lines, 0, "the number of output values")?;
                if count + 1 != lines.tokens.len() as u64 {
                    if line3_is_gate {
                        return Err(self.err(
                            output_line,
                            1,
                            "expected the output line 'nov m_1 .. m_nov' of Bristol Fashion, \
                             found a gate line (the output description line is missing)",
                        ));
                    }
                    return Err(self.err(
                        output_line,
                        1,
                        format!(
                            "output line says {count} output value(s) but lists {} size(s)",
                            lines.tokens.len() - 1
                        ),
                    ));
                }
                if count == 0 {
                    return Err(self.err(
                        output_line,
                        1,
                        "a circuit needs at least one output value",
                    ));
                }
                let mut widths = Vec::with_capacity(lines.tokens.len() - 1);
                for i in 1..lines.tokens.len() {
                    let w = self.number(lines, i, "an output width")?;
                    if w == 0 {
                        return Err(self.err(
                            output_line,
                            lines.column(i),
                            "output group of zero wires",
                        ));
                    }
                    widths.push(w);
                }
                output_widths = widths;
                gates_pending = false;
            }
            Dialect::Bristol => {
                if line2_tokens.len() != 3 {
                    return Err(self.err(
                        line2,
                        1,
                        format!(
                            "old Bristol Format expects 'n1 n2 nout' (3 integers) on line 2, got {} token(s)",
                            line2_tokens.len()
                        ),
                    ));
                }
                let n1 = parse_num(self, 0, "the width of input 1")?;
                let n2 = parse_num(self, 1, "the width of input 2")?;
                let nout = parse_num(self, 2, "the width of the output")?;
                if n1 == 0 {
                    return Err(self.err(line2, line2_columns[0], "input group of zero wires"));
                }
                if nout == 0 {
                    return Err(self.err(line2, line2_columns[2], "output of zero wires"));
                }
                input_widths = if n2 == 0 { vec![n1] } else { vec![n1, n2] };
                output_widths = vec![nout];
                output_line = line2;
                output_column = line2_columns[2];
                gates_pending = has_line3;
            }
        }

        let n_in: u64 = input_widths.iter().sum();
        let n_out: u64 = output_widths.iter().sum();
        if n_in + n_out > num_wires {
            return Err(self.err(
                output_line,
                output_column,
                format!(
                    "{n_in} input wires + {n_out} output wires exceed the {num_wires} wires the \
                     header declares (outputs are the last wires and may not overlap the inputs)"
                ),
            ));
        }
        let mut written = WireSet::default();
        let mut gates: u64 = 0;
        let mut gate_lines: u64 = 0;
        let mut mand_lines: u64 = 0;
        let mut pending = gates_pending;
        let mut scratch_inputs: Vec<WireId> = Vec::new();
        loop {
            if !pending && !lines.next_nonblank()? {
                break;
            }
            pending = false;
            if gate_lines == num_gates {
                return Err(self.err(
                    lines.line_no,
                    1,
                    format!(
                        "header (line {header_line}) declares {num_gates} gates but the file has \
                         more gate lines; this is the first surplus line"
                    ),
                ));
            }
            let mand = self.gate_line(
                lines,
                dialect,
                num_wires,
                n_in,
                &mut written,
                sink,
                &mut gates,
                &mut scratch_inputs,
            )?;
            gate_lines += 1;
            mand_lines += u64::from(mand);
        }
        if gate_lines < num_gates {
            return Err(self.err(
                header_line,
                1,
                format!(
                    "header declares {num_gates} gates but the file has {gate_lines} gate line(s)"
                ),
            ));
        }

        let first_output = num_wires - n_out;
        if let Some(w) = (first_output..num_wires).find(|&w| !written.contains(w)) {
            let missing = (first_output..num_wires)
                .filter(|&w| !written.contains(w))
                .count();
            return Err(self.err(
                output_line,
                output_column,
                format!(
                    "{missing} output wire(s) are never assigned (first: {w}); outputs are the \
                     last {n_out} wires {first_output}..{}",
                    num_wires - 1
                ),
            ));
        }
        // Unassigned wires are legal, but a header that declares far more wires than the gates
        // write would make every consumer allocate for nothing: bound it by the file's contents.
        let assigned = n_in + gates;
        if num_wires > 2 * assigned + (1 << 16) {
            return Err(self.err(
                header_line,
                1,
                format!(
                    "header declares {num_wires} wires but only {assigned} are inputs or written \
                     by a gate; a file this sparse is rejected to keep memory bounded"
                ),
            ));
        }
        // Every width is below num_wires <= u32::MAX.
        Ok(Header {
            dialect,
            num_wires: num_wires as u32,
            input_widths: input_widths.iter().map(|&w| w as u32).collect(),
            output_widths: output_widths.iter().map(|&w| w as u32).collect(),
            gate_lines,
            mand_lines,
            gates,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn gate_line<R: BufRead>(
        &self,
        lines: &Lines<R>,
        dialect: Dialect,
        num_wires: u64,
        n_in: u64,
        written: &mut WireSet,
        sink: &mut impl GateSink,
        gates: &mut u64,
        scratch_inputs: &mut Vec<WireId>,
    ) -> Result<bool> {
        let line = lines.line_no;
        let count = lines.tokens.len();
        if count < 3 {
            if count >= 1 && !is_numeric(lines.token(0)) {
                return Err(self.err(
                    line,
                    1,
                    format!(
                        "expected a gate line 'k l inputs.. outputs.. OP', got '{}'",
                        show(lines.token(0))
                    ),
                ));
            }
            return Err(self.err(
                line,
                1,
                format!("a gate line needs at least 'k l OP' and wires, got {count} token(s)"),
            ));
        }
        let k = self.number(lines, 0, "the number of gate inputs")?;
        let l = self.number(lines, 1, "the number of gate outputs")?;
        let op_index = count - 1;
        let op = lines.token(op_index);
        let op_column = lines.column(op_index);
        let wire_tokens = (count - 3) as u64;
        if k.checked_add(l) != Some(wire_tokens) {
            return Err(self.err(
                line,
                lines.column(0),
                format!(
                    "gate declares {k} input(s) and {l} output(s) but has {wire_tokens} wire token(s)"
                ),
            ));
        }
        #[derive(PartialEq)]
        enum Op {
            Xor,
            And,
            Inv,
            Eq,
            Eqw,
            Mand,
        }
        let parsed = match (op, dialect) {
            (b"XOR", _) => Op::Xor,
            (b"AND", _) => Op::And,
            (b"INV", _) => Op::Inv,
            (b"NOT", Dialect::Fashion) => Op::Inv,
            (b"EQ", Dialect::Fashion) => Op::Eq,
            (b"EQW", Dialect::Fashion) => Op::Eqw,
            (b"MAND", Dialect::Fashion) => Op::Mand,
            (b"NOT" | b"EQ" | b"EQW" | b"MAND", Dialect::Bristol) => {
                return Err(self.err(
                    line,
                    op_column,
                    format!(
                        "gate type {} is not part of the old Bristol Format (it has XOR, AND and INV)",
                        show(op)
                    ),
                ));
            }
            _ => {
                let expected = match dialect {
                    Dialect::Fashion => "XOR, AND, INV, NOT, EQ, EQW or MAND",
                    Dialect::Bristol => "XOR, AND or INV",
                };
                return Err(self.err(
                    line,
                    op_column,
                    format!(
                        "unknown gate type '{}'; expected {expected} (upper case)",
                        show(op)
                    ),
                ));
            }
        };
        let arity_ok = match parsed {
            Op::Xor | Op::And => k == 2 && l == 1,
            Op::Inv | Op::Eq | Op::Eqw => k == 1 && l == 1,
            Op::Mand => l >= 1 && k == 2 * l,
        };
        if !arity_ok {
            let name = show(op);
            let shape = match parsed {
                Op::Xor | Op::And => format!("'2 1 a b out {name}'"),
                Op::Inv | Op::Eqw => format!("'1 1 a out {name}'"),
                Op::Eq => "'1 1 c out EQ' with the constant c".to_string(),
                Op::Mand => "2n inputs and n outputs (n>=1)".to_string(),
            };
            return Err(self.err(
                line,
                lines.column(0),
                format!("{name} gate must have {shape}, got {k} {l}"),
            ));
        }

        // Inputs: all read before any output is written (a MAND's ANDs are parallel).
        scratch_inputs.clear();
        for i in 0..k as usize {
            let index = 2 + i;
            if parsed == Op::Eq {
                let c = lines.token(index);
                if c != b"0" && c != b"1" {
                    return Err(self.err(
                        line,
                        lines.column(index),
                        format!(
                            "EQ gate assigns a constant, which must be 0 or 1, got {}",
                            show(c)
                        ),
                    ));
                }
                scratch_inputs.push(u32::from(c == b"1"));
                continue;
            }
            let w = self.number(lines, index, "an input wire")?;
            if w >= num_wires {
                return Err(self.err(
                    line,
                    lines.column(index),
                    format!("input wire {w} out of range (circuit has {num_wires} wires)"),
                ));
            }
            if w >= n_in && !written.contains(w) {
                return Err(self.err(
                    line,
                    lines.column(index),
                    format!(
                        "wire {w} is read before it is assigned (gates must be in topological order)"
                    ),
                ));
            }
            scratch_inputs.push(w as WireId);
        }
        for j in 0..l as usize {
            let index = 2 + k as usize + j;
            let w = self.number(lines, index, "an output wire")?;
            if w >= num_wires {
                return Err(self.err(
                    line,
                    lines.column(index),
                    format!("output wire {w} out of range (circuit has {num_wires} wires)"),
                ));
            }
            if w < n_in {
                return Err(self.err(
                    line,
                    lines.column(index),
                    format!("gate writes wire {w}, which is a circuit input wire"),
                ));
            }
            if written.contains(w) {
                return Err(self.err(
                    line,
                    lines.column(index),
                    format!("wire {w} is assigned more than once"),
                ));
            }
            written.insert(w);
            let out = w as WireId;
            let s = &scratch_inputs;
            *gates += 1;
            sink.push(match parsed {
                Op::Xor => Gate::Xor {
                    a: s[0],
                    b: s[1],
                    out,
                },
                Op::And => Gate::And {
                    a: s[0],
                    b: s[1],
                    out,
                },
                Op::Inv => Gate::Inv { a: s[0], out },
                Op::Eq => Gate::Const {
                    value: s[0] == 1,
                    out,
                },
                Op::Eqw => Gate::Copy { a: s[0], out },
                Op::Mand => Gate::And {
                    a: s[j],
                    b: s[l as usize + j],
                    out,
                },
            })?;
        }
        Ok(parsed == Op::Mand)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY_FASHION: &str = "3 7\n2 2 1\n1 1\n\n2 1 0 2 4 AND\n2 1 4 1 5 XOR\n1 1 5 6 INV\n";

    #[test]
    fn parses_tiny_fashion() {
        let p = parse_str(TINY_FASHION, FormatChoice::Auto).unwrap();
        assert_eq!(p.dialect, Dialect::Fashion);
        assert_eq!(p.gate_lines, 3);
        assert_eq!(p.circuit.input_widths(), vec![2, 1]);
        assert_eq!(p.circuit.output_wires(), &[6]);
        assert_eq!(p.circuit.stats().and, 1);
    }

    #[test]
    fn forced_dialect_is_respected() {
        // Line 2 "2 2 1" also fits the old format; line 3 "1 1" is then a malformed gate line.
        let err = parse_str(TINY_FASHION, FormatChoice::Bristol).unwrap_err();
        assert!(matches!(err, Error::Parse { line: 3, .. }), "{err}");
    }

    #[test]
    fn header_limit_is_checked_before_allocation() {
        let text = "1099511627776 1099511627776\n1 1\n1 1\n1 1 0 1 INV\n";
        let err = parse_str(text, FormatChoice::Auto).unwrap_err();
        assert!(matches!(err, Error::LimitExceeded(_)), "{err}");
        assert!(err.to_string().contains("--max-gates"), "{err}");
    }

    #[test]
    fn sparse_header_is_rejected() {
        let text = "1 4000000000\n1 1\n1 1\n1 1 0 3999999999 INV\n";
        let limits = Limits {
            max_wires: u64::from(u32::MAX),
            max_gates: 10,
        };
        let err = parse(text.as_bytes(), FormatChoice::Auto, &limits).unwrap_err();
        assert!(err.to_string().contains("sparse"), "{err}");
    }

    #[test]
    fn the_written_set_agrees_with_a_plain_set() {
        // Runs, gaps filled from both sides, merges, and the switch to the bit set.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        for spread in [4u64, 64, 20_000] {
            let mut set = WireSet::default();
            let mut plain = std::collections::HashSet::new();
            for k in 0..30_000u64 {
                let w = if k % 3 == 0 {
                    k
                } else {
                    next() % spread + k / 2
                };
                if plain.contains(&w) {
                    assert!(set.contains(w));
                    continue;
                }
                assert!(!set.contains(w), "{w} before insert");
                set.insert(w);
                plain.insert(w);
            }
            for w in 0..40_000 {
                assert_eq!(
                    set.contains(w),
                    plain.contains(&w),
                    "spread {spread}, wire {w}"
                );
            }
        }
    }

    #[test]
    fn writer_round_trips() {
        let p = parse_str(TINY_FASHION, FormatChoice::Auto).unwrap();
        let text = to_fashion_string(&p.circuit);
        let q = parse_str(&text, FormatChoice::Fashion).unwrap();
        assert_eq!(p.circuit, q.circuit);
    }
}
