//! The transcript pane: the conversation's visible lines, the error banner over its top, the
//! "more below" tag, and the welcome text of an empty chat. What to render and cache lives in
//! `cache.rs`; how one turn looks in `turn.rs`.

mod cache;
mod turn;

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::sanitize::sanitize;
use crate::state::{AppState, Viewport};

pub use cache::{TranscriptCache, STREAM_INTERVAL};
pub use turn::{speaker_color, BodyStyle};

/// Draws the transcript (and the error banner over its top) into `area`; returns its size.
pub fn draw(state: &AppState, cache: &mut TranscriptCache, frame: &mut Frame, area: Rect) -> Viewport {
    let mut area = area;
    if let Some(message) = &state.banner {
        let used = draw_banner(state, message, frame, area);
        area.y += used;
        area.height -= used;
    }
    if state.transcript.is_empty() {
        draw_welcome(state, frame, area);
        return Viewport {
            total_lines: 0,
            height: area.height as usize,
            top: 0,
            help_max_scroll: 0,
        };
    }
    let view = cache::View {
        width: area.width,
        height: area.height as usize,
        style: BodyStyle::from(state.settings.look),
    };
    let layout = cache.layout(state.transcript.turns(), view, state.scroll);
    let viewport = layout.viewport;
    let top = viewport.top;
    frame.render_widget(Paragraph::new(layout.lines), area);
    if top < viewport.max_top() && area.height > 0 && area.width > 12 {
        let below = viewport.max_top() - top;
        let tag = format!(" ↓ {below} more ");
        let w = (tag.chars().count() as u16).min(area.width);
        let spot = Rect {
            x: area.right() - w,
            y: area.bottom() - 1,
            width: w,
            height: 1,
        };
        frame.render_widget(
            Paragraph::new(tag).style(Style::new().fg(Color::Black).bg(Color::Yellow)),
            spot,
        );
    }
    viewport
}

/// The error banner: up to three wrapped lines; returns the rows used.
fn draw_banner(state: &AppState, message: &str, frame: &mut Frame, area: Rect) -> u16 {
    let rows = 3.min(area.height.saturating_sub(1));
    if rows == 0 {
        return 0;
    }
    let text = format!(
        "✖ {}  ({} dismisses)",
        sanitize(message),
        state.hint(crate::keymap::Action::Stop)
    );
    let spot = Rect { height: rows, ..area };
    let style = Style::new().fg(Color::White).bg(Color::Red);
    frame.render_widget(Paragraph::new(text).style(style).wrap(Wrap { trim: true }), spot);
    rows
}

fn draw_welcome(state: &AppState, frame: &mut Frame, area: Rect) {
    let dim = Style::new().fg(Color::DarkGray);
    let lines = vec![
        Line::from(Span::styled("gemma-tui", Style::new().add_modifier(Modifier::BOLD))),
        Line::from(Span::styled(
            format!("Chat with {} on this machine.", sanitize(&state.model.name)),
            dim,
        )),
        Line::from(Span::styled(
            format!(
                "Type below; {} sends, {} adds a line, {} shows every key.",
                state.hint(crate::keymap::Action::Send),
                state.hint(crate::keymap::Action::Newline),
                state.hint(crate::keymap::Action::Help)
            ),
            dim,
        )),
    ];
    let pad = area.height.saturating_sub(lines.len() as u16) / 2;
    let spot = Rect {
        y: area.y + pad,
        height: area.height - pad,
        ..area
    };
    frame.render_widget(Paragraph::new(lines).centered().wrap(Wrap { trim: true }), spot);
}
