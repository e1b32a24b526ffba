//! The sessions pane: an overlay listing saved sessions (title, model, last use, size) or the
//! search hits with their snippets, the search box, and a footer saying which keys work in the
//! pane's current mode. Draws only; saved text is raw, so every title and snippet is
//! sanitized here.

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::keymap::{Action, Keymap, Layer};
use crate::sanitize::sanitize;
use crate::state::{AppState, PaneMode, PaneRow, SessionsPane};
use crate::store::{format_utc, SearchHit, SessionSummary, SNIPPET_END, SNIPPET_START};

pub fn draw(state: &AppState, frame: &mut Frame, area: Rect) {
    let Some(pane) = state.sessions_pane() else { return };
    let width = area.width.saturating_sub(4).min(110);
    let height = area.height.saturating_sub(2).min(30);
    let spot = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" Sessions ")
        .border_style(Style::new().fg(Color::Cyan));
    let inner = block.inner(spot);
    frame.render_widget(Clear, spot);
    frame.render_widget(block, spot);
    let [search, list, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    frame.render_widget(Paragraph::new(search_line(pane)), search);
    let current = state.session.id.as_ref();
    frame.render_widget(Paragraph::new(list_lines(pane, current, list)), list);
    let footer_text = footer_line(pane, &state.keymap);
    frame.render_widget(Paragraph::new(footer_text.clone()), footer);
    place_cursor(pane, frame, search, footer, &footer_text);
}

/// The terminal's cursor goes where the user types in the pane (the search, or the new title),
/// so an input method shows its preedit there rather than under the overlay.
fn place_cursor(pane: &SessionsPane, frame: &mut Frame, search: Rect, footer: Rect, footer_text: &Line) {
    let (area, col) = match &pane.mode {
        PaneMode::Rename { title, .. } => (footer, NEW_TITLE.width() + sanitize(title).width()),
        PaneMode::ConfirmDelete { .. } => (footer, footer_text.width()),
        PaneMode::Browse | PaneMode::Search => (search, SEARCH.width() + sanitize(&pane.query).width()),
    };
    if area.width == 0 || area.height == 0 {
        return;
    }
    let x = area.x + (col as u16).min(area.width - 1);
    frame.set_cursor_position(Position { x, y: area.y });
}

const SEARCH: &str = "Search: ";
const NEW_TITLE: &str = "New title: ";

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn search_line(pane: &SessionsPane) -> Line<'static> {
    let label = Span::styled(SEARCH, Style::new().fg(Color::Cyan));
    match (&pane.mode, pane.query.is_empty()) {
        (PaneMode::Search, _) | (_, false) => Line::from(vec![label, Span::raw(sanitize(&pane.query).into_owned())]),
        _ => Line::from(vec![label, Span::styled("type to search every message", dim())]),
    }
}

fn list_lines(pane: &SessionsPane, current: Option<&crate::store::SessionId>, area: Rect) -> Vec<Line<'static>> {
    if let Some(error) = &pane.error {
        return vec![Line::from(Span::styled(
            sanitize(error).into_owned(),
            Style::new().fg(Color::Red),
        ))];
    }
    let Some(list) = &pane.list else {
        return vec![Line::from(Span::styled("loading…", dim()))];
    };
    let rows = pane.rows();
    if rows.is_empty() {
        let text = if pane.is_searching() {
            "no message matches".to_string()
        } else if list.is_empty() {
            "no saved sessions yet: send a message and the chat is saved here".to_string()
        } else {
            String::new()
        };
        return vec![Line::from(Span::styled(text, dim()))];
    }
    // Hits take two lines (title, snippet); sessions one.
    let per_row = if pane.is_searching() { 2 } else { 1 };
    let fits = (area.height as usize / per_row).max(1);
    let first = pane.selected.saturating_sub(fits - 1);
    let width = area.width as usize;
    let mut lines = Vec::new();
    for (i, row) in rows.iter().enumerate().skip(first).take(fits) {
        let selected = i == pane.selected;
        let is_current = current == Some(row.session_id());
        match row {
            PaneRow::Session(s) => lines.push(session_line(s, selected, is_current, width)),
            PaneRow::Hit(h) => lines.extend(hit_lines(h, selected, is_current)),
        }
    }
    lines
}

fn marker(selected: bool, is_current: bool) -> Span<'static> {
    let text = match (selected, is_current) {
        (true, _) => "▶ ",
        (false, true) => "● ",
        (false, false) => "  ",
    };
    Span::styled(text, Style::new().fg(Color::Cyan))
}

fn row_style(selected: bool) -> Style {
    if selected {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new()
    }
}

/// `▶ title ……… model · 2025-01-01 01:01 UTC · 12 msgs`, the title cut to what fits.
fn session_line(s: &SessionSummary, selected: bool, is_current: bool, width: usize) -> Line<'static> {
    let meta = format!(
        "  {} · {} · {} msgs",
        sanitize(&s.model),
        format_utc(s.updated_at),
        s.message_count
    );
    let room = width.saturating_sub(2 + meta.width());
    let title = fit(&sanitize(&s.title).replace('\n', " "), room);
    let pad = room.saturating_sub(title.width());
    Line::from(vec![
        marker(selected, is_current),
        Span::styled(title, row_style(selected).add_modifier(Modifier::BOLD)),
        Span::raw(" ".repeat(pad)),
        Span::styled(meta, dim()),
    ])
}

fn hit_lines(h: &SearchHit, selected: bool, is_current: bool) -> Vec<Line<'static>> {
    let title = sanitize(&h.session_title).replace('\n', " ");
    let who = match h.role {
        crate::store::Role::User => "you",
        crate::store::Role::Model => "model",
    };
    let mut snippet = vec![Span::raw("    "), Span::styled(format!("{who}: "), dim())];
    snippet.extend(snippet_spans(&h.snippet));
    vec![
        Line::from(vec![
            marker(selected, is_current),
            Span::styled(title, row_style(selected).add_modifier(Modifier::BOLD)),
        ]),
        Line::from(snippet),
    ]
}

/// The snippet with its matched words highlighted (the store marks them with STX/ETX).
fn snippet_spans(snippet: &str) -> Vec<Span<'static>> {
    let hit = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    let mut spans = Vec::new();
    for (i, part) in snippet.split(SNIPPET_START).enumerate() {
        let (matched, rest) = match part.split_once(SNIPPET_END) {
            Some((m, r)) if i > 0 => (m, r),
            _ => ("", part),
        };
        let clean = |t: &str| sanitize(t).replace('\n', " ");
        if !matched.is_empty() {
            spans.push(Span::styled(clean(matched), hit));
        }
        if !rest.is_empty() {
            spans.push(Span::raw(clean(rest)));
        }
    }
    spans
}

/// The pane's keys as the keymap has them (`[keys.sessions]` may have rebound them).
fn footer_line(pane: &SessionsPane, keymap: &Keymap) -> Line<'static> {
    let key = Style::new().fg(Color::Cyan);
    let keys = |pairs: &[(String, &str)]| {
        let mut spans = Vec::new();
        for (i, (k, what)) in pairs.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", dim()));
            }
            spans.push(Span::styled(k.clone(), key));
            spans.push(Span::raw(format!(" {what}")));
        }
        Line::from(spans)
    };
    let bound = |pairs: &[(Action, &'static str)]| -> Vec<(String, &'static str)> {
        pairs
            .iter()
            .filter_map(|(action, what)| {
                let chord = keymap.chords(Layer::Sessions, *action).first()?.to_string();
                Some((chord, *what))
            })
            .collect()
    };
    match &pane.mode {
        PaneMode::Browse => keys(&bound(&[
            (Action::Open, "open"),
            (Action::Search, "search"),
            (Action::NewChat, "new"),
            (Action::Rename, "rename"),
            (Action::Delete, "delete"),
            (Action::Duplicate, "duplicate"),
            (Action::Close, "close"),
        ])),
        PaneMode::Search => keys(&bound(&[
            (Action::Open, "open"),
            (Action::ListDown, "next"),
            (Action::Close, "clear the search"),
        ])),
        PaneMode::Rename { title, .. } => {
            let mut line = Line::from(vec![
                Span::styled(NEW_TITLE, key),
                Span::raw(sanitize(title).into_owned()),
                Span::raw("   "),
            ]);
            // Typing a title is text entry: Enter and Esc are fixed there.
            line.spans
                .extend(keys(&[("Enter".into(), "save"), ("Esc".into(), "cancel")]).spans);
            line
        }
        PaneMode::ConfirmDelete { title, .. } => Line::from(vec![
            Span::styled(
                format!("Delete “{}” for good? ", sanitize(title)),
                Style::new().fg(Color::Red),
            ),
            Span::styled("y", key),
            Span::raw(" deletes, any other key keeps it"),
        ]),
    }
}

/// Cuts `text` to `width` columns, ending in `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if out.width() + w + 1 > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}
