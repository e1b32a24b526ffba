//! Width-aware line breaking of styled text: word wrap for prose, grapheme wrap for code,
//! plus the small span helpers (measure, truncate, pad) every other renderer part uses.
//!
//! Widths are display columns counted the way ratatui's buffer places text, grapheme by
//! grapheme, so a line that fits here also fits in the terminal buffer (CJK and emoji count 2).

use ratatui::buffer::CellWidth;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Stands in for a grapheme wider than the whole line (a CJK character at width 1), so that
/// no line ever exceeds its width.
const TOO_WIDE: &str = "…";

/// Display width of `text` in terminal columns: the sum of its graphemes' cells. The width of
/// the whole string can be less (`unicode-width` counts Arabic lam-alef as one column), and a
/// line measured that way loses its last cells on screen.
pub(crate) fn str_width(text: &str) -> usize {
    if text.is_ascii() {
        return UnicodeWidthStr::width(text);
    }
    text.graphemes(true).map(grapheme_width).sum()
}

fn grapheme_width(g: &str) -> usize {
    // A one-byte grapheme is ASCII, which `cell_width` must not be given when it is a control.
    if g.len() == 1 {
        UnicodeWidthStr::width(g)
    } else {
        usize::from(g.cell_width())
    }
}

/// Total display width of `spans`.
pub(crate) fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| str_width(&s.content)).sum()
}

/// Appends `text` to `spans`, extending the last span when the style matches so long
/// lines stay a handful of spans rather than one per grapheme.
pub(crate) fn append(spans: &mut Vec<Span<'static>>, text: &str, style: Style) {
    if text.is_empty() {
        return;
    }
    match spans.last_mut() {
        Some(last) if last.style == style => last.content.to_mut().push_str(text),
        _ => spans.push(Span::styled(text.to_string(), style)),
    }
}

/// Cuts `spans` to at most `max` columns (by grapheme, never splitting one).
pub(crate) fn truncate(spans: &[Span<'static>], max: usize) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        for g in span.content.graphemes(true) {
            let w = str_width(g);
            if used + w > max {
                return out;
            }
            used += w;
            append(&mut out, g, span.style);
        }
    }
    out
}

/// Pads `spans` with unstyled spaces up to `width` columns.
pub(crate) fn pad(spans: &mut Vec<Span<'static>>, width: usize) {
    let w = spans_width(spans);
    if w < width {
        spans.push(Span::raw(" ".repeat(width - w)));
    }
}

/// Greedy word wrapper. Text arrives in styled pieces (a word may span several pieces,
/// as in `**bold**text`), whitespace runs are kept inside a line and dropped at wrap points,
/// `\n` forces a break, and words longer than the line are broken by grapheme.
pub(crate) struct WordWrapper {
    width: usize,
    lines: Vec<Line<'static>>,
    line: Vec<Span<'static>>,
    line_w: usize,
    /// True when the current line began at a soft wrap (its leading space is dropped).
    soft: bool,
    space: Option<(String, Style)>,
    /// The word being collected, and where each of its styles ends in it; both buffers
    /// are reused, so wrapping allocates per line rather than per word.
    word: String,
    word_styles: Vec<(usize, Style)>,
    word_w: usize,
}

impl WordWrapper {
    pub(crate) fn new(width: usize) -> Self {
        Self {
            width: width.max(1),
            lines: Vec::new(),
            line: Vec::new(),
            line_w: 0,
            soft: false,
            space: None,
            word: String::new(),
            word_styles: Vec::new(),
            word_w: 0,
        }
    }

    /// Feeds styled text; may contain spaces and `\n`.
    pub(crate) fn push(&mut self, text: &str, style: Style) {
        let mut start = 0;
        let mut in_space = None;
        for (i, c) in text.char_indices() {
            let space = c.is_whitespace();
            if in_space != Some(space) {
                if let Some(was_space) = in_space {
                    self.push_run(&text[start..i], was_space, style);
                }
                start = i;
                in_space = Some(space);
            }
        }
        if let Some(was_space) = in_space {
            self.push_run(&text[start..], was_space, style);
        }
    }

    fn push_run(&mut self, run: &str, is_space: bool, style: Style) {
        if !is_space {
            self.word.push_str(run);
            match self.word_styles.last_mut() {
                Some((end, last)) if *last == style => *end = self.word.len(),
                _ => self.word_styles.push((self.word.len(), style)),
            }
            self.word_w += str_width(run);
            return;
        }
        self.flush_word();
        let mut pieces = run.split('\n');
        if let Some(first) = pieces.next() {
            self.add_space(first, style);
        }
        for piece in pieces {
            self.hard_break();
            self.add_space(piece, style);
        }
    }

    fn add_space(&mut self, space: &str, style: Style) {
        if space.is_empty() {
            return;
        }
        match &mut self.space {
            Some((s, _)) => s.push_str(space),
            None => self.space = Some((space.to_string(), style)),
        }
    }

    /// Ends the current line here, even if it is empty (keeps blank lines of plain text).
    pub(crate) fn hard_break(&mut self) {
        self.flush_word();
        self.space = None;
        self.end_line(false);
    }

    fn end_line(&mut self, soft: bool) {
        self.lines.push(Line::from(std::mem::take(&mut self.line)));
        self.line_w = 0;
        self.soft = soft;
    }

    /// The pending space, unless the line is fresh from a soft wrap.
    fn take_space(&mut self) -> Option<(String, Style)> {
        let space = self.space.take();
        if self.line_w == 0 && self.soft {
            return None;
        }
        space
    }

    fn flush_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let word = std::mem::take(&mut self.word);
        let styles = std::mem::take(&mut self.word_styles);
        let word_w = std::mem::take(&mut self.word_w);
        let space_w = match &self.space {
            Some((s, _)) if !(self.line_w == 0 && self.soft) => str_width(s),
            _ => 0,
        };
        if self.line_w + space_w + word_w <= self.width {
            self.place_space();
            self.place_word(&word, &styles, word_w);
        } else if word_w <= self.width {
            self.space = None;
            if self.line_w > 0 {
                self.end_line(true);
            }
            self.place_word(&word, &styles, word_w);
        } else {
            // A word longer than a line: start it here if a useful part fits, then
            // break it wherever the line is full.
            if self.line_w + space_w + 4 <= self.width {
                self.place_space();
            } else if self.line_w > 0 {
                self.space = None;
                self.end_line(true);
            }
            self.space = None;
            self.break_word(&word, &styles);
        }
        // Hand the buffers back, emptied, for the next word.
        (self.word, self.word_styles) = (word, styles);
        self.word.clear();
        self.word_styles.clear();
    }

    /// The word's styled pieces.
    fn pieces<'w>(word: &'w str, styles: &'w [(usize, Style)]) -> impl Iterator<Item = (&'w str, Style)> {
        let starts = std::iter::once(0).chain(styles.iter().map(|(end, _)| *end));
        starts
            .zip(styles)
            .map(|(start, (end, style))| (&word[start..*end], *style))
    }

    fn place_word(&mut self, word: &str, styles: &[(usize, Style)], word_w: usize) {
        for (piece, style) in Self::pieces(word, styles) {
            append(&mut self.line, piece, style);
        }
        self.line_w += word_w;
    }

    fn place_space(&mut self) {
        if let Some((space, style)) = self.take_space() {
            // A run of spaces wider than the line is cut to what fits.
            let room = self.width - self.line_w;
            let space = if str_width(&space) > room {
                " ".repeat(room)
            } else {
                space
            };
            self.line_w += str_width(&space);
            append(&mut self.line, &space, style);
        }
    }

    fn break_word(&mut self, word: &str, styles: &[(usize, Style)]) {
        for (piece, style) in Self::pieces(word, styles) {
            for g in piece.graphemes(true) {
                let (g, w) = fit_grapheme(g, self.width);
                if self.line_w + w > self.width {
                    self.end_line(true);
                }
                append(&mut self.line, g, style);
                self.line_w += w;
            }
        }
    }

    /// Returns the wrapped lines; a trailing empty line is dropped.
    pub(crate) fn finish(mut self) -> Vec<Line<'static>> {
        self.flush_word();
        if !self.line.is_empty() {
            self.end_line(false);
        }
        self.lines
    }
}

/// The grapheme and its width, or the one-column stand-in when it cannot fit at all.
fn fit_grapheme(g: &str, width: usize) -> (&str, usize) {
    let w = str_width(g);
    if w > width {
        (TOO_WIDE, 1)
    } else {
        (g, w)
    }
}

/// Word-wraps styled spans to `width` columns.
pub(crate) fn wrap_spans(spans: &[Span<'static>], width: usize) -> Vec<Line<'static>> {
    let mut wrapper = WordWrapper::new(width);
    for span in spans {
        wrapper.push(&span.content, span.style);
    }
    wrapper.finish()
}

/// Breaks one line of code into rows of at most `width` columns, grapheme by grapheme,
/// keeping every space (indentation matters in code). Always returns at least one row.
pub(crate) fn grapheme_wrap(spans: &[Span<'static>], width: usize) -> Vec<Vec<Span<'static>>> {
    let width = width.max(1);
    let mut rows = vec![Vec::new()];
    let mut used = 0;
    for span in spans {
        for g in span.content.graphemes(true) {
            let (g, w) = fit_grapheme(g, width);
            if used + w > width {
                rows.push(Vec::new());
                used = 0;
            }
            if let Some(row) = rows.last_mut() {
                append(row, g, span.style);
            }
            used += w;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wraps_at_spaces_and_drops_them() {
        let lines = wrap_spans(&[Span::raw("aaa bbb ccc")], 7);
        assert_eq!(texts(&lines), ["aaa bbb", "ccc"]);
    }

    #[test]
    fn word_spanning_styles_stays_whole() {
        let bold = Style::new().bold();
        let spans = [Span::raw("xx "), Span::styled("bo", bold), Span::raw("ld")];
        assert_eq!(texts(&wrap_spans(&spans, 5)), ["xx", "bold"]);
    }

    #[test]
    fn long_word_breaks_by_grapheme() {
        let lines = wrap_spans(&[Span::raw("abcdefghij")], 4);
        assert_eq!(texts(&lines), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn wide_chars_count_two_columns() {
        let lines = wrap_spans(&[Span::raw("한국어 표")], 4);
        assert_eq!(texts(&lines), ["한국", "어", "표"]);
        let lines = wrap_spans(&[Span::raw("한")], 1);
        assert_eq!(texts(&lines), ["…"]);
    }

    #[test]
    fn newline_forces_break_and_keeps_blank_lines() {
        let lines = wrap_spans(&[Span::raw("a\n\nb\n")], 10);
        assert_eq!(texts(&lines), ["a", "", "b"]);
    }

    #[test]
    fn grapheme_wrap_keeps_indentation() {
        let rows = grapheme_wrap(&[Span::raw("    let x = 1;")], 8);
        let rows: Vec<String> = rows.iter().map(|r| Line::from(r.clone()).to_string()).collect();
        assert_eq!(rows, ["    let ", "x = 1;"]);
        assert_eq!(grapheme_wrap(&[], 5).len(), 1);
    }

    #[test]
    fn truncate_and_pad() {
        let spans = vec![Span::raw("ab"), Span::raw("한c")];
        assert_eq!(spans_width(&truncate(&spans, 3)), 2);
        let mut spans = truncate(&spans, 5);
        pad(&mut spans, 7);
        assert_eq!(spans_width(&spans), 7);
    }
}
