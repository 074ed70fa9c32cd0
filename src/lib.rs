//! `garbled`: a garbled-circuit engine for two-party secure computation.
//!
//! Data flows one way: a Bristol file ([`circuit::bristol`]) becomes a [`circuit::Circuit`], which
//! can be evaluated in the clear ([`circuit::plain`]).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod circuit;
pub mod cli;
pub mod error;
pub mod value;

pub use error::{Error, Result};
