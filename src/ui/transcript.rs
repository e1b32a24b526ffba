//! The transcript pane and its cache of rendered lines.
//!
//! Each turn's lines are cached by (turn id, revision, width): a frame re-renders only the turn
//! whose text changed (the streaming answer) and draws only the visible lines. The body
//! renderer is a plain function so the Markdown renderer can replace the plain-text one.
//! Text is sanitized here, on its way to the screen.

use std::collections::HashMap;

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::wrap::wrap_words;
use crate::sanitize::sanitize;
use crate::state::{AppState, Scroll, Speaker, Turn, TurnStatus, Viewport};

/// Renders a (sanitized) message body to lines at most `width` columns wide.
pub type RenderBody = fn(&str, usize) -> Vec<Line<'static>>;

/// The plain-text body renderer used until Markdown lands.
pub fn plain_body(text: &str, width: usize) -> Vec<Line<'static>> {
    wrap_words(text, width).into_iter().map(Line::from).collect()
}

const GUTTER: &str = "▌ ";
const GUTTER_WIDTH: u16 = 2;

pub fn speaker_color(speaker: Speaker) -> Color {
    match speaker {
        Speaker::User => Color::Cyan,
        Speaker::Model => Color::Magenta,
    }
}

struct Entry {
    revision: u64,
    lines: Vec<Line<'static>>,
}

/// Rendered lines per turn for one width.
pub struct TranscriptCache {
    width: u16,
    entries: HashMap<u64, Entry>,
    render_body: RenderBody,
    /// How many turn renders happened, for tests and benches.
    pub renders: u64,
}

impl Default for TranscriptCache {
    fn default() -> Self {
        Self::new(plain_body)
    }
}

impl TranscriptCache {
    pub fn new(render_body: RenderBody) -> Self {
        Self {
            width: 0,
            entries: HashMap::new(),
            render_body,
            renders: 0,
        }
    }

    /// Brings every turn's lines up to date for `width`.
    fn refresh(&mut self, turns: &[Turn], width: u16) {
        if width != self.width {
            self.entries.clear();
            self.width = width;
        }
        if self.entries.len() > turns.len() {
            let live: std::collections::HashSet<u64> = turns.iter().map(|t| t.id).collect();
            self.entries.retain(|id, _| live.contains(id));
        }
        for turn in turns {
            let fresh = self.entries.get(&turn.id).is_some_and(|e| e.revision == turn.revision);
            if !fresh {
                let lines = render_turn(turn, width, self.render_body);
                self.renders += 1;
                self.entries.insert(
                    turn.id,
                    Entry {
                        revision: turn.revision,
                        lines,
                    },
                );
            }
        }
    }

    fn lines_of(&self, turn: &Turn) -> &[Line<'static>] {
        self.entries.get(&turn.id).map_or(&[], |e| e.lines.as_slice())
    }
}

fn render_turn(turn: &Turn, width: u16, render_body: RenderBody) -> Vec<Line<'static>> {
    let color = speaker_color(turn.speaker);
    let gutter = Span::styled(GUTTER, Style::new().fg(color));
    let name = match turn.speaker {
        Speaker::User => "You",
        Speaker::Model => "Gemma",
    };
    let mut header = vec![
        gutter.clone(),
        Span::styled(name, Style::new().fg(color).add_modifier(Modifier::BOLD)),
    ];
    header.extend(status_span(&turn.status));
    let mut lines = vec![Line::from(header)];
    let body_width = width.saturating_sub(GUTTER_WIDTH).max(1) as usize;
    let text = sanitize(&turn.text);
    if !text.is_empty() {
        for line in render_body(&text, body_width) {
            let mut spans = vec![gutter.clone()];
            spans.extend(line.spans);
            lines.push(Line::from(spans).style(line.style));
        }
    }
    lines.push(Line::default());
    lines
}

fn status_span(status: &TurnStatus) -> Option<Span<'static>> {
    let dim = Style::new().fg(Color::DarkGray);
    Some(match status {
        TurnStatus::Done => return None,
        TurnStatus::Waiting => Span::styled(" · waiting for the model…", dim),
        TurnStatus::Streaming => Span::styled(" · writing…", dim),
        TurnStatus::Stopped => Span::styled(" · stopped", Style::new().fg(Color::Yellow)),
        TurnStatus::CutAtLimit => Span::styled(" · cut at the max-tokens limit", Style::new().fg(Color::Yellow)),
        TurnStatus::Failed(why) => Span::styled(format!(" · failed: {}", sanitize(why)), Style::new().fg(Color::Red)),
    })
}

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
        };
    }
    let turns = state.transcript.turns();
    cache.refresh(turns, area.width);
    let total_lines: usize = turns.iter().map(|t| cache.lines_of(t).len()).sum();
    let viewport = Viewport {
        total_lines,
        height: area.height as usize,
    };
    let top = match state.scroll {
        Scroll::Follow => viewport.max_top(),
        Scroll::Pinned { top } => top.min(viewport.max_top()),
    };
    let visible = visible_lines(turns, cache, top, viewport.height);
    frame.render_widget(Paragraph::new(visible), area);
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

/// Clones only the lines in `top..top + height`.
fn visible_lines(turns: &[Turn], cache: &TranscriptCache, top: usize, height: usize) -> Vec<Line<'static>> {
    let mut out = Vec::with_capacity(height);
    let mut skip = top;
    for turn in turns {
        let lines = cache.lines_of(turn);
        if skip >= lines.len() {
            skip -= lines.len();
            continue;
        }
        for line in &lines[skip..] {
            if out.len() == height {
                return out;
            }
            out.push(line.clone());
        }
        skip = 0;
    }
    out
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
