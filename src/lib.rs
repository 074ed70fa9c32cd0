//! `garbled`: a garbled-circuit engine for two-party secure computation.
//!
//! Data flows one way: a Bristol file ([`circuit::bristol`]) becomes a [`circuit::Circuit`], which
//! can be evaluated in the clear ([`circuit::plain`]).
#![deny(missing_docs)]
#![deny(unsafe_code)] // `aes` alone allows it, for its intrinsics

pub mod aes;
pub mod block;
pub mod circuit;
pub mod cli;
pub mod compile;
pub mod error;
pub mod garble;
pub mod net;
pub mod ot;
pub mod protocol;
pub mod value;

pub use error::{Error, Result};
