//! Syntax highlighting of code text with syntect, within the caps and made cheap to
//! repeat: finished blocks are memoized, and the block still streaming in resumes from a
//! checkpoint at its last complete line instead of starting over on every render.
//!
//! Both stores are thread-local: rendering happens on the UI thread, and syntect's states
//! are cheap to keep but not worth a lock.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, HighlightState};
use syntect::parsing::{ParseState, SyntaxReference};
use syntect::util::LinesWithEndings;

use super::code::{find_syntax, syntaxes, theme, BlockOptions, CodeTheme};
use super::wrap::append;
use super::{MAX_HIGHLIGHT_BLOCK_BYTES, MAX_HIGHLIGHT_BLOCK_LINES, MAX_HIGHLIGHT_LINE_BYTES};

/// Styled spans per source line.
type Lines = Vec<Vec<Span<'static>>>;

/// Highlighted lines of one block, shared with the memo.
pub(crate) type Highlighted = Rc<Lines>;

/// The memo is emptied once it holds this much code, which bounds its memory.
const MEMO_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Where highlighting of the latest block stopped: the state after its last complete
/// line, and the lines up to there.
struct Checkpoint {
    theme: CodeTheme,
    lang: Option<String>,
    /// Bytes of code covered, ending just after a `\n`.
    done: usize,
    done_hash: u64,
    lines: Lines,
    state: (HighlightState, ParseState),
}

thread_local! {
    static MEMO: RefCell<(HashMap<u64, Highlighted>, usize)> = RefCell::default();
    static CHECKPOINT: RefCell<Option<Checkpoint>> = const { RefCell::new(None) };
}

fn hash_of(value: impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Highlights `code` (already sanitized) into one span list per source line. Blocks over
/// the caps, in unknown languages or with highlighting disallowed come out plain, in the
/// theme's text colour; lines over the line cap are plain too.
pub(crate) fn highlight(code: &str, lang: Option<&str>, options: BlockOptions) -> Highlighted {
    let within_caps = code.len() <= MAX_HIGHLIGHT_BLOCK_BYTES && code.lines().nth(MAX_HIGHLIGHT_BLOCK_LINES).is_none();
    let syntax = if options.highlight && within_caps {
        find_syntax(lang)
    } else {
        None
    };
    let Some(syntax) = syntax else {
        return Rc::new(plain_lines(code, options.theme));
    };
    if !options.closed {
        return Rc::new(resume(code, lang, options.theme, syntax));
    }
    let key = hash_of((options.theme, lang, code));
    if let Some(found) = MEMO.with_borrow(|(memo, _)| memo.get(&key).cloned()) {
        return found;
    }
    let lines = Rc::new(resume(code, lang, options.theme, syntax));
    MEMO.with_borrow_mut(|(memo, bytes)| {
        if *bytes + code.len() > MEMO_MAX_BYTES {
            memo.clear();
            *bytes = 0;
        }
        *bytes += code.len();
        memo.insert(key, Rc::clone(&lines));
    });
    lines
}

fn plain_style(which: CodeTheme) -> Style {
    let fg = theme(which).settings.foreground;
    fg.map_or(Style::new(), |c| Style::new().fg(rgb(c)))
}

fn plain_lines(code: &str, which: CodeTheme) -> Lines {
    let style = plain_style(which);
    let mut lines: Lines = code.lines().map(|l| vec![Span::styled(l.to_string(), style)]).collect();
    if lines.is_empty() {
        lines.push(Vec::new());
    }
    lines
}

/// The checkpoint, if it was taken on a prefix of this very block.
fn take_checkpoint(code: &str, lang: Option<&str>, which: CodeTheme) -> Option<Checkpoint> {
    let checkpoint = CHECKPOINT.take()?;
    let same_block = checkpoint.theme == which
        && checkpoint.lang.as_deref() == lang
        && code.get(..checkpoint.done).map(hash_of) == Some(checkpoint.done_hash);
    same_block.then_some(checkpoint)
}

/// Highlights from the checkpoint (or the start) to the end, then leaves a checkpoint at
/// the last complete line. The unfinished last line is highlighted from a copy of the
/// state, since its tokens may still change.
fn resume(code: &str, lang: Option<&str>, which: CodeTheme, syntax: &SyntaxReference) -> Lines {
    let theme = theme(which);
    let plain = plain_style(which);
    let complete = code.rfind('\n').map_or(0, |i| i + 1);
    let (mut lines, (hs, ps), done) = match take_checkpoint(code, lang, which) {
        Some(c) if c.done <= complete => (c.lines, c.state, c.done),
        _ => (Vec::new(), HighlightLines::new(syntax, theme).state(), 0),
    };
    let mut highlighter = HighlightLines::from_state(theme, hs, ps);
    for line in LinesWithEndings::from(&code[done..complete]) {
        lines.push(highlight_line(&mut highlighter, line, plain));
    }
    let state = highlighter.state();
    let mut out = lines.clone();
    if complete < code.len() || out.is_empty() {
        let mut scratch = HighlightLines::from_state(theme, state.0.clone(), state.1.clone());
        out.push(highlight_line(&mut scratch, &code[complete..], plain));
    }
    let done_hash = hash_of(&code[..complete]);
    let lang = lang.map(str::to_string);
    let checkpoint = Checkpoint {
        theme: which,
        lang,
        done: complete,
        done_hash,
        lines,
        state,
    };
    CHECKPOINT.set(Some(checkpoint));
    out
}

/// One line (with its `\n`, if any) to spans. An overlong line is shown plain and skipped
/// by the parser, so later lines may be off; that beats a stall on minified code.
fn highlight_line(h: &mut HighlightLines<'_>, line: &str, plain: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let regions = if line.len() <= MAX_HIGHLIGHT_LINE_BYTES {
        h.highlight_line(line, syntaxes()).ok()
    } else {
        None
    };
    match regions {
        Some(regions) => {
            for (style, text) in regions {
                append(&mut spans, text.trim_end_matches('\n'), convert(style));
            }
        }
        None => append(&mut spans, line.trim_end_matches('\n'), plain),
    }
    spans
}

fn rgb(c: syntect::highlighting::Color) -> Color {
    Color::Rgb(c.r, c.g, c.b)
}

/// Foreground and font style only: the terminal keeps its own background.
fn convert(style: syntect::highlighting::Style) -> Style {
    let mut out = Style::new().fg(rgb(style.foreground));
    for (flag, modifier) in [
        (FontStyle::BOLD, Modifier::BOLD),
        (FontStyle::ITALIC, Modifier::ITALIC),
        (FontStyle::UNDERLINE, Modifier::UNDERLINED),
    ] {
        if style.font_style.contains(flag) {
            out = out.add_modifier(modifier);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(closed: bool) -> BlockOptions {
        BlockOptions {
            closed,
            ..BlockOptions::new(CodeTheme::Dark)
        }
    }

    #[test]
    fn keywords_get_colours() {
        let lines = highlight("fn main() {}\n", Some("rs"), options(true));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].len() > 2, "expected several styled regions: {:?}", lines[0]);
    }

    #[test]
    fn long_lines_and_blocks_stay_plain() {
        let long = format!("let x = \"{}\";\n", "a".repeat(MAX_HIGHLIGHT_LINE_BYTES));
        assert_eq!(highlight(&long, Some("rust"), options(true))[0].len(), 1);
        let many = "let x = 1;\n".repeat(MAX_HIGHLIGHT_BLOCK_LINES + 1);
        let lines = highlight(&many, Some("rust"), options(true));
        assert!(lines.iter().all(|l| l.len() == 1));
        let denied = BlockOptions {
            highlight: false,
            ..options(true)
        };
        assert_eq!(highlight("fn f() {}", Some("rust"), denied)[0].len(), 1);
    }

    #[test]
    fn closed_blocks_are_memoized() {
        let code = "let memo_test = 1;\n";
        let a = highlight(code, Some("rust"), options(true));
        let b = highlight(code, Some("rust"), options(true));
        assert!(Rc::ptr_eq(&a, &b));
        let light = BlockOptions::new(CodeTheme::Light);
        assert!(!Rc::ptr_eq(&a, &highlight(code, Some("rust"), light)));
    }

    #[test]
    fn streaming_block_resumes_with_the_same_result() {
        let code = "/* a comment\n spanning lines */\nfn main() {\n    let s = \"str\";\n}\n";
        let whole = highlight(code, Some("rust"), options(false));
        CHECKPOINT.set(None);
        // Grow the block a few bytes at a time, as tokens arrive.
        let mut last = Rc::new(Vec::new());
        for end in (1..=code.len()).filter(|&e| code.is_char_boundary(e)).step_by(3) {
            last = highlight(&code[..end], Some("rust"), options(false));
        }
        let end = highlight(code, Some("rust"), options(false));
        assert_eq!(*end, *whole, "resumed highlighting equals a fresh pass");
        assert!(!last.is_empty());
        let other = highlight("x = 1\n", Some("python"), options(false));
        assert_eq!(other.len(), 1, "a different block does not resume from the checkpoint");
    }
}
