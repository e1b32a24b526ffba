//! One turn as lines: a header naming the speaker (and how the answer ended), the body behind
//! a coloured gutter, a blank line after. The user's words are shown as typed (wrapped plain
//! text); the model's answers as Markdown. Text is sanitized here, on its way to the screen.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::markdown::{self, CodeTheme};
use crate::sanitize::sanitize;
use crate::settings::Look;
use crate::state::{Speaker, Turn, TurnStatus};
use crate::ui::wrap::wrap_words;

const GUTTER: &str = "▌ ";
pub(super) const GUTTER_WIDTH: u16 = 2;

/// How the model's answers are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyStyle {
    /// Wrapped plain text (`[chat] markdown = false`).
    Plain,
    /// Markdown with code highlighted in this theme.
    Markdown(CodeTheme),
}

impl Default for BodyStyle {
    fn default() -> Self {
        Self::from(Look::default())
    }
}

impl From<Look> for BodyStyle {
    fn from(look: Look) -> Self {
        if look.markdown {
            Self::Markdown(look.code_theme)
        } else {
            Self::Plain
        }
    }
}

pub fn speaker_color(speaker: Speaker) -> Color {
    match speaker {
        Speaker::User => Color::Cyan,
        Speaker::Model => Color::Magenta,
        Speaker::Note => Color::DarkGray,
    }
}

/// Wrapped plain text, one line per row.
fn plain_body(text: &str, width: usize) -> Vec<Line<'static>> {
    wrap_words(text, width).into_iter().map(Line::from).collect()
}

/// A note's two rows: the dim line, centred, and a blank one (see `NOTE_HEIGHT`).
fn render_note(turn: &Turn, width: u16) -> Vec<Line<'static>> {
    let text = sanitize(&turn.text).replace('\n', " ");
    let line = Line::from(Span::styled(format!("— {text} —"), Style::new().fg(Color::DarkGray)));
    let _ = width; // centring is the line's own alignment: it re-flows at any width
    vec![line.centered(), Line::default()]
}

/// Rows a note takes at any width.
pub(super) const NOTE_HEIGHT: usize = 2;

pub(super) fn render_turn(turn: &Turn, width: u16, style: BodyStyle) -> Vec<Line<'static>> {
    if turn.speaker == Speaker::Note {
        return render_note(turn, width);
    }
    let color = speaker_color(turn.speaker);
    let gutter = Span::styled(GUTTER, Style::new().fg(color));
    let name = match turn.speaker {
        Speaker::User => "You",
        Speaker::Model | Speaker::Note => "Gemma",
    };
    let mut header = vec![
        gutter.clone(),
        Span::styled(name, Style::new().fg(color).add_modifier(Modifier::BOLD)),
    ];
    header.extend(status_span(&turn.status));
    let mut lines = vec![Line::from(header)];
    let body_width = width.saturating_sub(GUTTER_WIDTH).max(1);
    let text = sanitize(&turn.text);
    if !text.is_empty() {
        let body = match (turn.speaker, style) {
            (Speaker::Model, BodyStyle::Markdown(theme)) => markdown::render(&text, body_width, theme),
            _ => plain_body(&text, body_width.into()),
        };
        for line in body {
            let mut spans = Vec::with_capacity(line.spans.len() + 1);
            spans.push(gutter.clone());
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
