//! Command-line flags (clap). No logic: `main` and `config` decide what the flags mean.

use std::path::PathBuf;
use std::str::FromStr;

use clap::{Parser, Subcommand};

use crate::engine::{DeviceChoice, Quantization};

/// gemma-tui: chat with Gemma 2 in the terminal, locally, through mistral.rs.
///
/// Without --prompt it opens the chat screen; the flags then set its defaults.
/// With --prompt it answers once, streaming the reply to stdout and statistics to stderr.
#[derive(Debug, Parser, Default)]
#[command(name = "gemma-tui", version, about, long_about = None)]
pub struct Cli {
    /// gemma-2-2b, gemma-2-9b, gemma-2-27b, a Hugging Face repo id, or a model folder
    #[arg(long, short = 'm', value_name = "PRESET|DIR")]
    pub model: Option<String>,

    /// Answer this prompt and exit ("-" reads standard input)
    #[arg(long, short = 'p', value_name = "TEXT")]
    pub prompt: Option<String>,

    /// A system prompt (Gemma 2 has no system role: it is folded into the first user turn)
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Maximum new tokens of an answer [default: 512]
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,

    /// 0 = greedy [default: 0]
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,

    /// Keep the K most likely tokens (0 = off) [default: off]
    #[arg(long, value_name = "K")]
    pub top_k: Option<u32>,

    /// Nucleus sampling (1 = off) [default: 1]
    #[arg(long, value_name = "P")]
    pub top_p: Option<f64>,

    /// Drop tokens below M times the top probability (0 = off) [default: 0]
    #[arg(long, value_name = "M")]
    pub min_p: Option<f64>,

    /// transformers-style repetition penalty (1 = off) [default: 1.05]
    #[arg(long, value_name = "R")]
    pub repetition_penalty: Option<f64>,

    /// OpenAI-style frequency penalty (0 = off) [default: 0]
    #[arg(long, value_name = "F", allow_hyphen_values = true)]
    pub frequency_penalty: Option<f64>,

    /// OpenAI-style presence penalty (0 = off) [default: 0]
    #[arg(long, value_name = "Q", allow_hyphen_values = true)]
    pub presence_penalty: Option<f64>,

    /// Where to run the model: auto, cpu, cuda, cuda:N or metal [default: auto]
    #[arg(long, value_name = "DEVICE", value_parser = DeviceChoice::from_str)]
    pub device: Option<DeviceChoice>,

    /// Quantize the weights while loading (in-situ); on a CPU, q8_0, q6k and q4k are the fast ones
    #[arg(long, value_enum, value_name = "TYPE", hide_possible_values = false)]
    pub quantize: Option<Quantization>,

    /// Chat through an OpenAI-compatible server (mistralrs serve, vLLM, llama.cpp's server)
    /// instead of loading the model here: a URL, or an endpoint named in [remote.endpoints];
    /// --model then names the server's model
    #[arg(long, value_name = "URL|NAME")]
    pub remote: Option<String>,

    /// The environment variable that holds the server's API key (the key is never stored)
    #[arg(long, value_name = "VAR", requires = "remote")]
    pub api_key_env: Option<String>,

    /// Use this config file instead of the default one
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Open the chat screen on a saved session ("last" = the most recently used one)
    #[arg(long, value_name = "ID|last", conflicts_with = "prompt")]
    pub resume: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, export and import saved sessions (no model is loaded)
    Sessions {
        #[command(subcommand)]
        action: SessionsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Saved sessions, most recently used first: id, last use, messages, model, title
    List,
    /// Write one session to standard output
    Export {
        /// A session id from `sessions list`, or "last"
        #[arg(value_name = "ID|last")]
        id: String,
        #[arg(long, value_enum, default_value = "md")]
        format: ExportFormat,
    },
    /// Add a session from a JSON export; prints its new id
    Import {
        #[arg(value_name = "FILE.json")]
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Markdown, for reading
    Md,
    /// The exchange format that `sessions import` reads
    Json,
}
