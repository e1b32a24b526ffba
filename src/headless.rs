//! Headless mode: one prompt in, the reply streamed to stdout, statistics to stderr.
//!
//! stdout carries only the reply (sanitized, so a model cannot drive the terminal); everything
//! else goes to stderr, and a failure is one line saying what to do.

use std::io::{IsTerminal, Write};

use crate::engine::{
    self, ChatMessage, ChatRequest, EngineCommand, EngineEnv, EngineEvent, FinishReason, LoadProgress, LoadedModel,
    Place, SamplingSettings, Usage,
};
use crate::sanitize::StreamSanitizer;

pub struct HeadlessRequest {
    /// An `EngineCommand::Load`.
    pub load: EngineCommand,
    /// Where local models come from, and where this one runs.
    pub env: EngineEnv,
    pub place: Place,
    pub system: Option<String>,
    pub prompt: String,
    pub sampling: SamplingSettings,
}

/// How a headless run ended, for the exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Answered,
    Interrupted,
}

/// Runs one request to completion. `Err` carries the one line to show the user.
pub async fn run(request: HeadlessRequest) -> Result<Ended, String> {
    request.sampling.validate().map_err(|e| e.to_string())?;
    let chatty = std::io::stderr().is_terminal();
    for caveat in request.sampling.caveats() {
        note(format_args!("note: {caveat}\n"));
    }
    let (engine, mut events) = engine::start(request.env.clone(), request.place.clone());
    engine.send(request.load.clone());
    let loaded = wait_for_load(&mut events, chatty).await?;

    let gen_id = 1;
    engine.send(EngineCommand::Chat(ChatRequest {
        gen_id,
        system: request.system.clone(),
        messages: vec![ChatMessage::user(request.prompt.clone())],
        sampling: request.sampling.clone(),
    }));
    let mut stdout = std::io::stdout().lock();
    let mut sanitizer = StreamSanitizer::new();
    let mut failure = None;
    let mut interrupted = false;
    let mut wrote_reply = false;
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = &mut ctrl_c => {
                if interrupted {
                    // A second Ctrl+C leaves at once, whatever the engine is doing.
                    write_out(&mut stdout, &sanitizer.finish())?;
                    return Ok(Ended::Interrupted);
                }
                interrupted = true;
                ctrl_c = Box::pin(tokio::signal::ctrl_c());
                engine.send(EngineCommand::Cancel { gen_id });
                continue;
            }
        };
        match event {
            Some(EngineEvent::Token { delta, .. }) => {
                wrote_reply = true;
                write_out(&mut stdout, &sanitizer.push(&delta))?;
            }
            Some(EngineEvent::Error { message, .. }) => failure = Some(message),
            Some(EngineEvent::Finished { reason, usage, .. }) => {
                write_out(&mut stdout, &sanitizer.finish())?;
                if wrote_reply || reason != FinishReason::Error {
                    write_out(&mut stdout, "\n")?;
                }
                if reason != FinishReason::Error {
                    note(format_args!("{}\n", summary(&loaded, reason, &usage)));
                }
                break;
            }
            Some(_) => {}
            None => return Err("the engine stopped unexpectedly (see the log file)".into()),
        }
    }
    match failure {
        Some(message) => Err(message),
        None if interrupted => Ok(Ended::Interrupted),
        None => Ok(Ended::Answered),
    }
}

fn write_out(out: &mut impl Write, text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| format!("cannot write the reply: {e}"))
}

async fn wait_for_load(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
    chatty: bool,
) -> Result<LoadedModel, String> {
    while let Some(event) = events.recv().await {
        match event {
            EngineEvent::Loaded(info) => return Ok(info),
            EngineEvent::Error { message, .. } => return Err(message),
            EngineEvent::LoadProgress(p) if chatty => report_progress(&p),
            _ => {}
        }
    }
    Err("the engine stopped while loading (see the log file)".into())
}

/// Writes to stderr; a closed stderr is no reason to fail (the answer goes to stdout).
fn note(text: std::fmt::Arguments) {
    let _ = std::io::stderr().write_fmt(text);
}

fn report_progress(progress: &LoadProgress) {
    match progress {
        LoadProgress::Resolving { .. } => {}
        LoadProgress::Loading { model } => note(format_args!("loading {model}…\n")),
        LoadProgress::Downloading {
            file,
            done_bytes,
            total_bytes,
        } => {
            let pct = if *total_bytes > 0 {
                done_bytes * 100 / total_bytes
            } else {
                0
            };
            note(format_args!(
                "\rdownloading {file}: {pct}% of {:.1} MB   ",
                *total_bytes as f64 / 1e6
            ));
            if done_bytes >= total_bytes {
                note(format_args!("\n"));
            }
        }
    }
}

fn summary(model: &LoadedModel, reason: FinishReason, usage: &Usage) -> String {
    let mut parts = vec![
        format!("{} on {} ({})", model.name, model.device, model.dtype),
        format!("{} prompt tokens", usage.prompt_tokens),
        format!("{} answer tokens", usage.completion_tokens),
        format!("finish: {}", reason.as_str()),
    ];
    if let Some(ttft) = usage.time_to_first_token {
        parts.push(format!("first token {:.2} s", ttft.as_secs_f64()));
    }
    if let Some(rate) = usage.decode_tokens_per_second {
        parts.push(format!("{rate:.1} tokens/s"));
    }
    if usage.dropped_turns > 0 {
        parts.push(format!("{} old turns dropped to fit", usage.dropped_turns));
    }
    format!("[{}]", parts.join(" · "))
}
