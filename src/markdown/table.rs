//! GFM tables: columns sized by display width, shrunk (widest first) and cell text wrapped
//! when the table is wider than the screen, and a one-record-per-block layout when even
//! that cannot fit.

use pulldown_cmark::Alignment;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};

use super::wrap::{spans_width, wrap_spans};

/// Columns are never shrunk below this (unless their content is narrower), so that
/// wrapped cells stay readable; tables that cannot honour it switch to records.
const MIN_COLUMN: usize = 3;

/// A table collected from parser events: rows of cells of styled inline text.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub(crate) aligns: Vec<Alignment>,
    pub(crate) rows: Vec<Vec<Vec<Span<'static>>>>,
    /// Number of leading rows that form the header (0 or 1 in GFM).
    pub(crate) header_rows: usize,
}

fn border() -> Style {
    Style::new().fg(Color::DarkGray)
}

impl Table {
    fn columns(&self) -> usize {
        let widest_row = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        widest_row.max(self.aligns.len())
    }

    fn natural_widths(&self) -> Vec<usize> {
        let mut widths = vec![0; self.columns()];
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(spans_width(cell));
            }
        }
        widths.iter().map(|&w| w.max(1)).collect()
    }

    /// Renders the table into lines of at most `width` columns.
    pub(crate) fn render(&self, width: usize) -> Vec<Line<'static>> {
        let n = self.columns();
        if n == 0 {
            return Vec::new();
        }
        let natural = self.natural_widths();
        let budget = width.saturating_sub(3 * n + 1);
        match fit_columns(&natural, budget) {
            Some(widths) => self.render_grid(&widths),
            None => self.render_records(width),
        }
    }

    fn render_grid(&self, widths: &[usize]) -> Vec<Line<'static>> {
        let rendered: Vec<Vec<Vec<Line<'static>>>> = self
            .rows
            .iter()
            .map(|row| {
                let cell = |i: usize| row.get(i).map_or(&[][..], Vec::as_slice);
                widths
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| wrap_spans(cell(i), w))
                    .collect()
            })
            .collect();
        let tall_rows = rendered.iter().any(|row| row.iter().any(|c| c.len() > 1));
        let mut lines = vec![rule(widths, '┌', '┬', '┐')];
        for (r, row) in rendered.iter().enumerate() {
            if r > 0 && (r == self.header_rows || (r > self.header_rows && tall_rows)) {
                lines.push(rule(widths, '├', '┼', '┤'));
            }
            let bold = r < self.header_rows;
            lines.extend(self.row_lines(row, widths, bold));
        }
        lines.push(rule(widths, '└', '┴', '┘'));
        lines
    }

    fn row_lines(&self, cells: &[Vec<Line<'static>>], widths: &[usize], bold: bool) -> Vec<Line<'static>> {
        let height = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
        (0..height)
            .map(|y| {
                let mut spans = vec![Span::styled("│", border())];
                for (i, &w) in widths.iter().enumerate() {
                    let content = cells.get(i).and_then(|c| c.get(y));
                    let mut content = content.map_or_else(Vec::new, |l| l.spans.clone());
                    if bold {
                        for span in &mut content {
                            span.style = span.style.add_modifier(Modifier::BOLD);
                        }
                    }
                    let align = self.aligns.get(i).copied().unwrap_or(Alignment::None);
                    let gap = w.saturating_sub(spans_width(&content));
                    let left = match align {
                        Alignment::Right => gap,
                        Alignment::Center => gap / 2,
                        Alignment::Left | Alignment::None => 0,
                    };
                    spans.push(Span::raw(" ".repeat(left + 1)));
                    spans.extend(content);
                    spans.push(Span::raw(" ".repeat(gap - left + 1)));
                    spans.push(Span::styled("│", border()));
                }
                Line::from(spans)
            })
            .collect()
    }

    /// Narrow-screen fallback: every body row becomes a block of `header: value` lines.
    fn render_records(&self, width: usize) -> Vec<Line<'static>> {
        let header = self.rows.first().filter(|_| self.header_rows > 0);
        let mut lines = Vec::new();
        for row in self.rows.iter().skip(self.header_rows) {
            if !lines.is_empty() {
                lines.push(Line::styled("─".repeat(width), border()));
            }
            for (i, cell) in row.iter().enumerate() {
                let mut spans: Vec<Span<'static>> = header
                    .and_then(|h| h.get(i))
                    .map_or_else(Vec::new, |h| h.iter().map(|s| s.clone().bold()).collect());
                if !spans.is_empty() {
                    spans.push(Span::raw(": "));
                }
                spans.extend(cell.iter().cloned());
                lines.extend(wrap_spans(&spans, width));
            }
        }
        lines
    }
}

fn rule(widths: &[usize], left: char, mid: char, right: char) -> Line<'static> {
    let mut s = String::from(left);
    for (i, &w) in widths.iter().enumerate() {
        if i > 0 {
            s.push(mid);
        }
        s.extend(std::iter::repeat_n('─', w + 2));
    }
    s.push(right);
    Line::styled(s, border())
}

/// Column widths summing to at most `budget`: columns keep their natural width when all
/// fit; otherwise the widest are cut down to a common limit (water-filling), and any
/// leftover columns go back to the cut ones. `None` when even the minimums do not fit.
fn fit_columns(natural: &[usize], budget: usize) -> Option<Vec<usize>> {
    if natural.iter().sum::<usize>() <= budget {
        return Some(natural.to_vec());
    }
    let minimum: usize = natural.iter().map(|&w| w.min(MIN_COLUMN)).sum();
    if minimum > budget {
        return None;
    }
    let used = |limit: usize| -> usize { natural.iter().map(|&w| w.min(limit.max(MIN_COLUMN))).sum() };
    // Largest limit whose total still fits; `used` grows with the limit.
    let (mut lo, mut hi) = (MIN_COLUMN, natural.iter().copied().max().unwrap_or(MIN_COLUMN));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if used(mid) <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut widths: Vec<usize> = natural.iter().map(|&w| w.min(lo.max(MIN_COLUMN))).collect();
    let mut spare = budget - used(lo);
    for (w, &nat) in widths.iter_mut().zip(natural) {
        if spare > 0 && *w < nat {
            *w += 1;
            spare -= 1;
        }
    }
    Some(widths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[&[&str]]) -> Table {
        Table {
            aligns: vec![Alignment::None; rows[0].len()],
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| vec![Span::raw(c.to_string())]).collect())
                .collect(),
            header_rows: 1,
        }
    }

    #[test]
    fn fit_keeps_natural_widths_when_possible() {
        assert_eq!(fit_columns(&[3, 5], 10), Some(vec![3, 5]));
    }

    #[test]
    fn fit_shrinks_widest_first() {
        assert_eq!(fit_columns(&[4, 30, 20], 30), Some(vec![4, 13, 13]));
        assert_eq!(fit_columns(&[10, 10], 5), None);
    }

    #[test]
    fn every_width_fits() {
        let t = table(&[&["이름", "설명"], &["사과", "빨갛고 달콤한 과일입니다"], &["x", "y"]]);
        for width in 1..60 {
            for line in t.render(width) {
                assert!(line.width() <= width, "width {width}: {line}");
            }
        }
    }

    #[test]
    fn narrow_tables_become_records() {
        let t = table(&[&["a", "b", "c"], &["1", "2", "3"]]);
        let lines: Vec<String> = t.render(8).iter().map(|l| l.to_string()).collect();
        assert_eq!(lines, ["a: 1", "b: 2", "c: 3"]);
    }
}
