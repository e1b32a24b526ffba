//! gemma-tui: a terminal chat application for Google's Gemma 2 models, running locally through
//! mistral.rs. The library holds everything; `main.rs` only wires it together.

pub mod app;
pub mod cli;
pub mod clipboard;
pub mod config;
pub mod effect;
pub mod engine;
#[cfg(test)]
mod fuzzing;
pub mod headless;
pub mod keymap;
pub mod logging;
pub mod markdown;
pub mod model_survey;
pub mod msg;
pub mod panic_hook;
pub mod paste_tail;
pub mod paths;
pub mod sanitize;
pub mod sessions_cli;
pub mod settings;
pub mod state;
pub mod store;
pub mod store_link;
pub mod terminal;
pub mod tui;
pub mod ui;
pub mod update;
