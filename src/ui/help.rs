//! The help overlay, generated from the keymap: every action, its keys, what it does.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::state::AppState;

/// Draws the overlay; returns how far it can scroll at this size.
pub fn draw(state: &AppState, frame: &mut Frame, area: Rect) -> u16 {
    let sections = state.keymap.help_rows();
    let key_width = sections
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|(k, _)| k.width()))
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for (section, rows) in &sections {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::from(Span::styled(
            section.title(),
            Style::new().add_modifier(Modifier::BOLD),
        )));
        for (keys, description) in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<key_width$}  "), Style::new().fg(Color::Cyan)),
                Span::raw(*description),
            ]));
        }
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Up, Down, PageUp, PageDown scroll; any other key closes this help.",
        Style::new().fg(Color::DarkGray),
    )));
    lines.push(Line::from(Span::styled(
        "A plain key such as ? acts only while the message box is empty.",
        Style::new().fg(Color::DarkGray),
    )));
    lines.push(Line::from(Span::styled(
        "/model NAME, /settings; rebind keys in config.toml ([keys], [keys.<pane>]).",
        Style::new().fg(Color::DarkGray),
    )));
    let width = (area.width.saturating_sub(4)).min(100);
    let height = (lines.len() as u16 + 2).min(area.height);
    let spot = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    // `update` clamps the scroll to what this returns; a state drawn at a new size is clamped
    // here too. Rows are counted before wrapping: a wrapped row may stay below a tiny window.
    let inner = height.saturating_sub(2);
    let max_scroll = (lines.len() as u16).saturating_sub(inner);
    let scroll = state.help_scroll().unwrap_or(0).min(max_scroll);
    let title = if max_scroll > 0 {
        format!(" Keys ({}/{} ↑↓) ", scroll + inner.min(lines.len() as u16), lines.len())
    } else {
        " Keys ".to_string()
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .title(title)
        .border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(Clear, spot);
    let help = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0));
    frame.render_widget(help, spot);
    max_scroll
}
