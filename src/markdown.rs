//! Markdown rendering for the chat transcript: turns a model answer (complete or still
//! streaming) into styled `ratatui` lines that fit a given width, with highlighted,
//! numbered code blocks that can be copied back out as raw text.
//!
//! - [`render`]: Markdown to lines, every line at most `width` display columns.
//! - [`code_blocks`]: the raw code of each block, numbered like the `[n]` labels.
//! - [`warm_up`]: loads syntaxes and themes ahead of the first code block.
//!
//! Links are shown as their text followed by the URL, dimmed; they are not made
//! clickable (no OSC 8), so no escape sequence from a model ever reaches the terminal.
//!
//! All text, code included, goes through `crate::sanitize::sanitize` before it becomes a
//! span. The work per render is bounded by the caps below, so a hostile or broken answer
//! costs time proportional to its size, never worse. Highlighting is the expensive part:
//! finished blocks are memoized by content and the block still streaming in is highlighted
//! incrementally (see `highlight.rs`), so a re-render mostly re-does parse and layout.
//!
//! Files: `render.rs` (event walk, inline styles), `layout.rs` (quotes, lists, gaps),
//! `wrap.rs` and `plain.rs` (line breaking), `table.rs`, `code.rs` (themes, languages,
//! frames), `highlight.rs`, `copy.rs` ([`code_blocks`]).

mod code;
mod copy;
mod highlight;
mod layout;
mod plain;
mod render;
mod table;
mod wrap;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use code::{warm_up, CodeTheme};
pub use copy::{code_blocks, CodeBlock};

use pulldown_cmark::{Options, Parser};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// Only this much of an answer is parsed as Markdown; the rest is wrapped as plain text
/// after a note. Parsing is linear, but one answer re-rendered 30 times a second while
/// streaming must stay cheap, and no real answer comes near 512 KB.
pub const MAX_MARKDOWN_BYTES: usize = 512 * 1024;

/// List and quote levels beyond this add no indentation: 5,000 nested lists would
/// otherwise indent text off the screen and cost O(depth) per line.
pub const MAX_NESTING: usize = 32;

/// Code lines longer than this are shown without highlighting. syntect with the pure-Rust
/// regex engine the app uses (`default-fancy`) managed only 15-150 KB/s on the build
/// machine (C++ slowest, JSON fastest), and minified lines are the worst case.
pub const MAX_HIGHLIGHT_LINE_BYTES: usize = 1_000;

/// Code blocks with more lines than this are shown plain.
pub const MAX_HIGHLIGHT_BLOCK_LINES: usize = 1_000;

/// Code blocks bigger than this are shown plain: at the rates above 32 KB is up to about
/// a second, once (finished blocks are memoized, a streaming block is highlighted
/// incrementally), and few real answers hold a bigger block.
pub const MAX_HIGHLIGHT_BLOCK_BYTES: usize = 32 * 1024;

/// Highlighting budget of one answer: once its blocks add up to this, later blocks are
/// shown plain, so an answer made of many medium blocks cannot stall a render either.
pub const MAX_HIGHLIGHT_DOC_BYTES: usize = 64 * 1024;

/// Parser options shared by the renderer and [`code_blocks`], so block numbers agree.
fn parser(markdown: &str) -> Parser<'_> {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    Parser::new_ext(markdown, options)
}

/// Splits `markdown` at the parse cap: after the last line break before it, else after the
/// last space, else on a character boundary, so no word is cut in two.
fn split_at_cap(markdown: &str) -> (&str, Option<&str>) {
    if markdown.len() <= MAX_MARKDOWN_BYTES {
        return (markdown, None);
    }
    let mut cut = MAX_MARKDOWN_BYTES;
    while !markdown.is_char_boundary(cut) {
        cut -= 1;
    }
    if let Some(at) = markdown[..cut].rfind('\n').or_else(|| markdown[..cut].rfind(' ')) {
        cut = at + 1;
    }
    (&markdown[..cut], Some(&markdown[cut..]))
}

/// Renders `markdown` into lines at most `width` display columns wide. Code blocks are
/// highlighted with `theme` and labelled `[n] language`, numbered from 1 in order.
/// An unclosed code fence (a streaming answer) renders as code up to the end.
pub fn render(markdown: &str, width: u16, theme: CodeTheme) -> Vec<Line<'static>> {
    let width = usize::from(width);
    if width == 0 {
        return Vec::new();
    }
    let (head, tail) = split_at_cap(markdown);
    let mut lines = render::Renderer::new(width, theme).run(head);
    if let Some(tail) = tail {
        let note = format!(
            "[answer longer than {} KB: the rest is shown as plain text]",
            MAX_MARKDOWN_BYTES / 1024
        );
        let note_style = Style::new().fg(Color::DarkGray).add_modifier(Modifier::ITALIC);
        lines.push(Line::default());
        lines.extend(wrap::wrap_spans(&[Span::styled(note, note_style)], width));
        lines.extend(plain::wrap_plain(&crate::sanitize::sanitize(tail), width, Style::new()));
    }
    lines
}
