//! The help overlay, generated from the keymap: every action, its keys, what it does.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::state::AppState;

pub fn draw(state: &AppState, frame: &mut Frame, area: Rect) {
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
        "Any key closes this help.",
        Style::new().fg(Color::DarkGray),
    )));
    lines.push(Line::from(Span::styled(
        "A plain key such as ? acts only while the message box is empty.",
        Style::new().fg(Color::DarkGray),
    )));
    lines.push(Line::from(Span::styled(
        "/model NAME loads another model. Keys are set in the [keys] table of config.toml.",
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
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" Keys ")
        .border_style(Style::new().fg(Color::Cyan));
    frame.render_widget(Clear, spot);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), spot);
}
