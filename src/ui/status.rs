//! The status line: the model and its phase (with download progress), the last answer's speed,
//! the context used, and the current notice. Segments are dropped from the right when narrow.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::keymap::Action;
use crate::sanitize::sanitize;
use crate::state::{AppState, Download, ModelPhase};
use crate::update::human_bytes;

const BAR_CELLS: usize = 12;

pub fn draw(state: &AppState, frame: &mut Frame, area: Rect) {
    let mut spans = phase_spans(state);
    let width = area.width as usize;
    if let Some(notice) = &state.notice {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            sanitize(notice).into_owned(),
            Style::new().fg(Color::Yellow),
        ));
    }
    let used: usize = spans.iter().map(|s| s.content.width()).sum();
    let mut right = right_segments(state);
    // Drop the least important segments (the last ones) until the rest fits.
    while !right.is_empty() && used + 2 + right.join(" · ").width() > width {
        right.pop();
    }
    if !right.is_empty() {
        let text = right.join(" · ");
        let pad = width.saturating_sub(used + text.width());
        spans.push(Span::raw(" ".repeat(pad)));
        spans.push(Span::styled(text, Style::new().fg(Color::DarkGray)));
    }
    let style = Style::new().bg(Color::Black).fg(Color::White);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(style), area);
}

fn phase_spans(state: &AppState) -> Vec<Span<'static>> {
    let name = match &state.model.endpoint {
        Some(endpoint) => format!("{} @ {}", sanitize(&state.model.name), sanitize(endpoint)),
        None => sanitize(&state.model.name).into_owned(),
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let (mark, color, words) = match &state.model.phase {
        ModelPhase::NotLoaded => ("○", Color::DarkGray, "not loaded".to_string()),
        ModelPhase::Resolving => ("◌", Color::Yellow, "looking for the model…".to_string()),
        ModelPhase::Downloading(d) => ("⇣", Color::Yellow, download_words(d)),
        ModelPhase::Loading => ("◌", Color::Yellow, "loading weights…".to_string()),
        ModelPhase::Failed => ("✖", Color::Red, "failed to load".to_string()),
        ModelPhase::Ready if state.is_generating() => ("●", Color::Green, "generating…".to_string()),
        ModelPhase::Ready => ("●", Color::Green, "ready".to_string()),
    };
    let waiting = state.is_generating() && !matches!(state.model.phase, ModelPhase::Ready);
    let mut spans = vec![
        Span::styled(format!(" {mark} "), Style::new().fg(color)),
        Span::styled(name, bold),
        Span::raw(" "),
        Span::styled(words, Style::new().fg(color)),
    ];
    if waiting {
        spans.push(Span::styled(
            " (your message waits for it)",
            Style::new().fg(Color::DarkGray),
        ));
    }
    spans
}

fn download_words(d: &Download) -> String {
    let filled = (d.fraction() * BAR_CELLS as f64).round() as usize;
    let bar = format!(
        "{}{}",
        "█".repeat(filled),
        "░".repeat(BAR_CELLS - filled.min(BAR_CELLS))
    );
    let rate = d
        .bytes_per_second()
        .map(|r| format!(" {}/s", human_bytes(r as u64)))
        .unwrap_or_default();
    format!(
        "{} {bar} {:.0}% {}/{}{rate}",
        sanitize(&d.file),
        d.fraction() * 100.0,
        human_bytes(d.done_bytes),
        human_bytes(d.total_bytes)
    )
}

/// Right-hand segments, most important first.
fn right_segments(state: &AppState) -> Vec<String> {
    let mut out = vec![format!("{} help", state.hint(Action::Help))];
    if let Some(stats) = &state.last_answer {
        if let Some(tps) = stats.tokens_per_second {
            out.push(format!("{tps:.1} tok/s"));
        }
        if let Some(ttft) = stats.time_to_first_token {
            out.push(format!("first token {:.2} s", ttft.as_secs_f64()));
        }
    }
    if let Some(ctx) = &state.context {
        let usable = state.model.usable_context.unwrap_or(ctx.usable).max(ctx.usable);
        let about = if ctx.exact { "" } else { "~" };
        out.push(format!("context {about}{}/{}", ctx.prompt_tokens, usable));
        if ctx.dropped_turns > 0 {
            out.push(format!("{} old turns left out", ctx.dropped_turns));
        }
    }
    if !state.mouse_capture {
        out.push("mouse select mode".into());
    }
    out
}
