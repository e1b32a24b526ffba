//! The message box pane: the text wrapped by grapheme, scrolled to the caret, and the terminal
//! cursor placed on the caret so an IME shows its preedit where the user types.

use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::wrap::wrap_chars;
use crate::keymap::Action;
use crate::state::AppState;

/// Most text rows the box grows to before it scrolls.
pub const MAX_ROWS: u16 = 8;

/// Rows the box wants at `width` (borders included).
pub fn height_for(state: &AppState, width: u16) -> u16 {
    let inner = width.saturating_sub(2) as usize;
    let (rows, _) = wrap_chars(state.input.text(), inner, state.input.caret());
    (rows.len() as u16).clamp(1, MAX_ROWS) + 2
}

pub fn draw(state: &AppState, frame: &mut Frame, area: Rect) {
    let border = if state.is_generating() {
        Color::DarkGray
    } else {
        Color::Cyan
    };
    // Below three rows there is no room for borders: the text gets every row.
    let borders = if area.height >= 3 { Borders::ALL } else { Borders::NONE };
    let mut block = Block::new().borders(borders).border_style(Style::new().fg(border));
    // The settings pane lends the box to the system prompt while it is edited.
    let editing_system = state.settings_pane().is_some_and(|p| p.editing_system.is_some());
    if borders == Borders::ALL {
        block = block.title(if editing_system { " System prompt " } else { " Message " });
    }
    let hint = if editing_system {
        format!(
            " {} keeps it · {} cancels · {} new line ",
            state.hint(Action::Send),
            state.hint(Action::Stop),
            state.hint(Action::Newline)
        )
    } else {
        format!(
            " {} send · {} new line ",
            state.hint(Action::Send),
            state.hint(Action::Newline)
        )
    };
    if borders == Borders::ALL && area.width as usize > hint.chars().count() + 12 {
        block = block.title_bottom(Line::from(hint).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    if state.input.is_empty() {
        let placeholder = format!("Type a message… ({} for help)", state.hint(Action::Help));
        let style = Style::new().fg(Color::DarkGray);
        frame.render_widget(Paragraph::new(Span::styled(placeholder, style)), inner);
        place_cursor(state, frame, inner, (0, 0));
        return;
    }
    let (rows, (row, col)) = wrap_chars(state.input.text(), inner.width as usize, state.input.caret());
    let height = inner.height as usize;
    let first = (row + 1).saturating_sub(height);
    let lines: Vec<Line> = rows.into_iter().skip(first).take(height).map(Line::from).collect();
    frame.render_widget(Paragraph::new(lines), inner);
    place_cursor(state, frame, inner, (row - first, col));
}

fn place_cursor(state: &AppState, frame: &mut Frame, inner: Rect, (row, col): (usize, usize)) {
    if state.help_scroll().is_some() {
        return;
    }
    let x = inner.x + (col as u16).min(inner.width.saturating_sub(1));
    let y = inner.y + (row as u16).min(inner.height.saturating_sub(1));
    frame.set_cursor_position(Position { x, y });
}
