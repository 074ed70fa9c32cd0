//! Circuits: the model ([`ir`]), Bristol files ([`bristol`]) and cleartext evaluation ([`plain`]).

pub mod bristol;
pub mod ir;
pub mod plain;

pub use bristol::{Dialect, FormatChoice, Limits, ParsedCircuit};
pub use ir::{Circuit, Gate, Group, Stats, WireId};
