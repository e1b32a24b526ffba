//! Block layout for the renderer: the container stack (quotes, list items) that
//! prefixes every line with quote bars or list markers and hanging indents, the blank
//! lines between blocks, and the nesting and width caps on those prefixes.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::render::{dim, Renderer};
use super::wrap::{spans_width, str_width, truncate, wrap_spans};
use super::MAX_NESTING;

/// A block container whose prefix every line inside it carries.
pub(super) enum Container {
    /// A block quote: `│ ` on every line.
    Quote,
    /// A list item: `marker` goes on its first line, `indent` spaces on the others.
    Item {
        marker: String,
        indent: usize,
        pending: bool,
        style: Style,
    },
}

impl Renderer {
    /// A task item shows its checkbox in place of the bullet.
    pub(super) fn task_marker(&mut self, done: bool) {
        if let Some(Container::Item {
            marker,
            indent,
            pending: true,
            style,
        }) = self.containers.last_mut()
        {
            *marker = if done { "[x] " } else { "[ ] " }.to_string();
            *indent = 4;
            *style = if done { Style::new().fg(Color::Green) } else { dim() };
        }
    }

    pub(super) fn open(&mut self, container: Container) {
        self.flush_inline();
        self.flush_gap();
        self.containers.push(container);
    }

    pub(super) fn close(&mut self) {
        self.flush_inline();
        self.containers.pop();
        self.gap = true;
    }

    pub(super) fn close_item(&mut self) {
        self.flush_inline();
        // An empty item (often one still streaming in) still shows its marker; items
        // nested past the cap have no marker of their own.
        let shown = self.containers.len() <= MAX_NESTING;
        if let (true, Some(Container::Item { pending: true, .. })) = (shown, self.containers.last()) {
            self.emit_block(|_| vec![Line::default()]);
        }
        self.containers.pop();
    }

    pub(super) fn open_item(&mut self) {
        let depth = self.lists.len().saturating_sub(1);
        let (marker, style) = match self.lists.last_mut() {
            Some(Some(n)) => {
                let marker = format!("{n}. ");
                *n += 1;
                (marker, Style::new().add_modifier(Modifier::BOLD))
            }
            _ => (["• ", "◦ ", "▪ "][depth % 3].to_string(), Style::new().fg(Color::Cyan)),
        };
        let indent = str_width(&marker);
        self.open(Container::Item {
            marker,
            indent,
            pending: true,
            style,
        });
    }

    /// Emits the owed blank line, carrying the quote bars of the enclosing containers.
    pub(super) fn flush_gap(&mut self) {
        if std::mem::take(&mut self.gap) && !self.out.is_empty() {
            let (_, rest) = self.prefixes(false);
            let mut text: String = rest.iter().map(|s| &*s.content).collect();
            text.truncate(text.trim_end().len());
            self.out.push(Line::styled(text, dim()));
        }
    }

    /// Prefixes for the first and the following lines of the next block; `consume` marks
    /// pending list markers as shown. Only the outer `MAX_NESTING` containers indent, and the
    /// prefix never takes more than two thirds of the width.
    fn prefixes(&mut self, consume: bool) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
        let (mut first, mut rest) = (Vec::new(), Vec::new());
        for container in self.containers.iter_mut().take(MAX_NESTING) {
            match container {
                Container::Quote => {
                    first.push(Span::styled("│ ", dim()));
                    rest.push(Span::styled("│ ", dim()));
                }
                Container::Item {
                    marker,
                    indent,
                    pending,
                    style,
                } => {
                    let pad = " ".repeat(*indent);
                    if *pending {
                        let w = str_width(marker);
                        first.push(Span::styled(marker.clone(), *style));
                        first.push(Span::raw(" ".repeat(indent.saturating_sub(w))));
                        *pending = !consume;
                    } else {
                        first.push(Span::raw(pad.clone()));
                    }
                    rest.push(Span::raw(pad));
                }
            }
        }
        let max = self.width - (self.width / 3).max(1);
        (truncate(&first, max), truncate(&rest, max))
    }

    /// Lays out one block at the width left after the prefixes and appends it.
    pub(super) fn emit_block(&mut self, layout: impl FnOnce(usize) -> Vec<Line<'static>>) {
        self.flush_gap();
        let (first, rest) = self.prefixes(true);
        let used = spans_width(&first).max(spans_width(&rest));
        for (i, line) in layout(self.width - used).into_iter().enumerate() {
            let mut spans = if i == 0 { first.clone() } else { rest.clone() };
            // Fold the line's own style into its spans so it does not tint the prefix.
            let base = line.style;
            spans.extend(line.spans.into_iter().map(|s| {
                let style = base.patch(s.style);
                s.style(style)
            }));
            self.out.push(Line::from(spans));
        }
    }

    pub(super) fn flush_inline(&mut self) {
        let spans = std::mem::take(&mut self.inline);
        if spans.iter().all(|s| s.content.trim().is_empty()) {
            return;
        }
        self.emit_block(|w| wrap_spans(&spans, w));
    }
}
