//! Shared test support; each test crate uses only part of it.
#![allow(dead_code)]

pub mod goldens;
pub mod harness;
pub mod mistral_server;
pub mod tiny_gemma;
