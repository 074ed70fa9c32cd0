//! `garbled`: a garbled-circuit engine for two-party secure computation.
//!
//! Data flows one way: a Bristol file ([`circuit::bristol`]) or the builder
//! ([`circuit::builder`]) gives a [`circuit::Circuit`]; [`compile`] lowers it to a
//! [`compile::Program`]; [`garble::Garbler`] and [`garble::Evaluator`] (half-gates on fixed-key
//! AES from [`aes`]) turn programs and labels into tables and back; [`ot`] delivers the
//! evaluator's input labels; [`protocol`] runs it all between two parties over a [`net::Channel`];
//! [`cli`] is the `garbled` command. [`circuit::plain`] evaluates in the clear, the reference for
//! every test. The security model is in `docs/SECURITY.md`.
#![deny(missing_docs)]
#![deny(unsafe_code)] // allowed only for SIMD intrinsics: `aes`, `ot::transpose`, `garble::three_halves::sse`

pub mod aes;
pub mod auth;
pub mod batch;
pub mod block;
pub mod circuit;
pub mod cli;
pub mod compile;
pub mod error;
pub mod garble;
pub mod job;
pub mod net;
pub mod ot;
pub mod protocol;
pub mod session;
pub mod spool;
pub mod text;
pub mod value;

pub use error::{Error, Result};

/// The README's code, compiled and run as a doctest so that it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
