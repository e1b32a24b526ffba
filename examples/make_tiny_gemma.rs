//! Writes the tiny seeded Gemma 2 test checkpoint into a folder:
//! `cargo run --example make_tiny_gemma -- <dir>`.

// A bench or example: a failed unwrap is a failed run, never a user's lost chat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/tiny_gemma.rs"]
mod tiny_gemma;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: make_tiny_gemma <dir>");
        std::process::exit(2);
    };
    tiny_gemma::write_tiny_gemma2(&dir)?;
    let fingerprint = tiny_gemma::fingerprint(&dir)?;
    println!(
        "wrote tiny Gemma 2 to {} (fingerprint {fingerprint:016x})",
        dir.display()
    );
    Ok(())
}
