//! Circuits: the model ([`ir`]), Bristol files ([`bristol`]), cleartext evaluation ([`plain`]),
//! the builder ([`builder`]) with its standard circuits ([`library`]), and optimization
//! ([`optimize`]).

pub mod bristol;
pub mod builder;
pub mod ir;
pub mod library;
pub mod optimize;
pub mod plain;

pub use bristol::{Dialect, FormatChoice, Limits, ParsedCircuit};
pub use ir::{Circuit, Gate, Group, GroupKind, Stats, WireId};
