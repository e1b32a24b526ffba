//! The walk over pulldown-cmark events that turns Markdown into styled, width-bounded
//! lines: dispatch of block and inline events, inline styles, links and raw HTML.
//! Block layout lives in `layout.rs`; code blocks and tables in their own modules.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Tag, TagEnd};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::code::{fence_language, render_code_block, BlockOptions, CodeTheme};
use super::layout::Container;
use super::table::Table;
use super::wrap::append;
use super::MAX_HIGHLIGHT_DOC_BYTES;

/// A link or image being collected: where it points and the text shown for it.
struct Link {
    url: String,
    text: String,
    image: bool,
}

/// Code block being collected: its number, fence language and raw text.
struct Code {
    number: usize,
    lang: Option<String>,
    text: String,
}

/// Renderer state while walking the events of one document.
pub(crate) struct Renderer {
    pub(super) width: usize,
    theme: CodeTheme,
    pub(super) out: Vec<Line<'static>>,
    pub(super) containers: Vec<Container>,
    /// Next number of each open list (`None` for bullet lists).
    pub(super) lists: Vec<Option<u64>>,
    pub(super) inline: Vec<Span<'static>>,
    styles: Vec<Style>,
    /// Open links (nested only through images in link text).
    links: Vec<Link>,
    code: Option<Code>,
    code_count: usize,
    table: Option<Table>,
    /// Code bytes that may still be highlighted in this document.
    highlight_left: usize,
    /// The current event reaches the end of the text.
    at_end: bool,
    /// A blank line is owed before the next block.
    pub(super) gap: bool,
}

pub(super) fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn heading_style(level: HeadingLevel) -> Style {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    match level {
        HeadingLevel::H1 => bold.fg(Color::Magenta).add_modifier(Modifier::UNDERLINED),
        HeadingLevel::H2 => bold.fg(Color::Magenta),
        HeadingLevel::H3 => bold.fg(Color::Cyan),
        _ => bold,
    }
}

impl Renderer {
    pub(crate) fn new(width: usize, theme: CodeTheme) -> Self {
        Self {
            width: width.max(1),
            theme,
            out: Vec::new(),
            containers: Vec::new(),
            lists: Vec::new(),
            inline: Vec::new(),
            styles: Vec::new(),
            links: Vec::new(),
            code: None,
            code_count: 0,
            table: None,
            highlight_left: MAX_HIGHLIGHT_DOC_BYTES,
            at_end: false,
            gap: false,
        }
    }

    /// Renders a whole event stream and returns the lines.
    pub(crate) fn run(mut self, markdown: &str) -> Vec<Line<'static>> {
        let end = markdown.trim_end().len();
        for (event, range) in super::parser(markdown).into_offset_iter() {
            // pulldown-cmark closes an unfinished fence at the end of the text; a block
            // reaching the end may still be streaming in.
            self.at_end = range.end >= end;
            self.event(event);
        }
        // A truncated or streaming document may leave blocks open: flush what was collected.
        self.flush_inline();
        if let Some(code) = self.code.take() {
            self.emit_code(code, false);
        }
        if let Some(table) = self.table.take() {
            self.emit_block(|w| table.render(w));
        }
        self.out
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => match &mut self.code {
                Some(code) => code.text.push_str(&text),
                None => self.push_text(&text, self.style()),
            },
            Event::Code(text) => {
                let style = self.style().fg(Color::Yellow);
                self.push_text(&text, style);
            }
            // A model's single newline is meant as a line break (verse, addresses, one idea per
            // line), as chat front ends show it; CommonMark would join the lines.
            Event::SoftBreak => self.push_text("\n", self.style()),
            Event::HardBreak => self.push_text("\n", self.style()),
            Event::Html(html) | Event::InlineHtml(html) => self.html(&html),
            Event::Rule => {
                self.flush_inline();
                self.emit_block(|w| vec![Line::styled("─".repeat(w), dim())]);
                self.gap = true;
            }
            Event::TaskListMarker(done) => self.task_marker(done),
            Event::InlineMath(text) | Event::DisplayMath(text) | Event::FootnoteReference(text) => {
                self.push_text(&text, self.style());
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => self.flush_inline(),
            Tag::Heading { level, .. } => {
                self.flush_inline();
                self.styles.push(heading_style(level));
            }
            Tag::BlockQuote(_) => self.open(Container::Quote),
            Tag::CodeBlock(kind) => self.open_code(kind),
            Tag::List(start) => {
                self.flush_inline();
                self.flush_gap();
                self.lists.push(start);
            }
            Tag::Item => self.open_item(),
            Tag::Table(aligns) => {
                self.flush_inline();
                let table = Table {
                    aligns,
                    ..Table::default()
                };
                self.table = Some(table);
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    table.rows.push(Vec::new());
                }
            }
            Tag::TableCell => self.inline.clear(),
            Tag::Emphasis => self.styles.push(Style::new().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.styles.push(Style::new().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self.styles.push(Style::new().add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { dest_url, .. } => self.open_link(&dest_url, false),
            Tag::Image { dest_url, .. } => self.open_link(&dest_url, true),
            _ => self.styles.push(Style::new()),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => {
                self.flush_inline();
                self.gap = true;
            }
            TagEnd::Heading(_) => {
                self.flush_inline();
                self.styles.pop();
                self.gap = true;
            }
            TagEnd::BlockQuote(_) => self.close(),
            TagEnd::CodeBlock => {
                if let Some(code) = self.code.take() {
                    self.emit_code(code, !self.at_end);
                }
                self.gap = true;
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.gap |= self.lists.is_empty();
            }
            TagEnd::Item => self.close_item(),
            TagEnd::Table | TagEnd::TableHead | TagEnd::TableRow | TagEnd::TableCell => {
                self.end_table_part(tag);
            }
            TagEnd::Link | TagEnd::Image => self.close_link(),
            _ => {
                self.styles.pop();
            }
        }
    }

    /// `closed`: the fence ended (false for one still streaming at the end of the text).
    /// Blocks are highlighted while the document's budget lasts, then shown plain.
    fn emit_code(&mut self, code: Code, closed: bool) {
        let highlight = code.text.len() <= self.highlight_left;
        if highlight {
            self.highlight_left -= code.text.len();
        }
        let options = BlockOptions {
            theme: self.theme,
            closed,
            highlight,
        };
        self.emit_block(|w| render_code_block(code.number, code.lang.as_deref(), &code.text, w, options));
    }

    fn open_code(&mut self, kind: CodeBlockKind<'_>) {
        self.flush_inline();
        self.code_count += 1;
        let lang = match kind {
            CodeBlockKind::Fenced(info) => fence_language(&info),
            CodeBlockKind::Indented => None,
        };
        let (number, text) = (self.code_count, String::new());
        self.code = Some(Code { number, lang, text });
    }

    fn end_table_part(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.emit_block(|w| table.render(w));
                }
                self.gap = true;
            }
            TagEnd::TableHead => {
                if let Some(table) = &mut self.table {
                    table.header_rows = table.rows.len();
                }
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline);
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(cell);
                }
            }
            _ => {}
        }
    }

    pub(super) fn style(&self) -> Style {
        self.styles.iter().fold(Style::new(), |acc, s| acc.patch(*s))
    }

    /// Sanitizes text on its way into a span: no control or bidi characters reach a cell.
    pub(super) fn push_text(&mut self, text: &str, style: Style) {
        let clean = crate::sanitize::sanitize(text);
        if let Some(link) = self.links.last_mut() {
            link.text.push_str(&clean);
        }
        append(&mut self.inline, &clean, style);
    }

    /// Raw HTML is shown as dim text, except `<br>` which breaks the line.
    fn html(&mut self, html: &str) {
        let tag = html.trim().to_ascii_lowercase();
        if matches!(tag.as_str(), "<br>" | "<br/>" | "<br />") {
            self.push_text("\n", self.style());
        } else {
            self.push_text(html, self.style().patch(dim()));
        }
    }

    fn open_link(&mut self, url: &str, image: bool) {
        if image {
            self.push_text("[image: ", dim());
        }
        let (url, text) = (url.to_string(), String::new());
        self.links.push(Link { url, text, image });
        let style = Style::new().fg(Color::Blue).add_modifier(Modifier::UNDERLINED);
        self.styles.push(style);
    }

    /// Links are not clickable: the URL follows the text, dimmed, unless the text already
    /// is the URL (autolinks).
    fn close_link(&mut self) {
        self.styles.pop();
        let Some(link) = self.links.pop() else { return };
        if link.image {
            self.push_text("]", dim());
        }
        let url = link.url;
        let bare = url.strip_prefix("mailto:").unwrap_or(&url);
        if !url.is_empty() && link.text != url && link.text != bare {
            self.push_text(&format!(" ({url})"), dim());
        }
    }
}
