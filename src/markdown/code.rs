//! Code blocks: language lookup (with the aliases models use in fences), syntect
//! highlighting under the two bundled themes, and the numbered frame around each block.
//!
//! Syntaxes and themes are parsed once, on first use, into `OnceLock`s; [`warm_up`] does
//! that ahead of time so the first code block of a session does not stall a frame.

use std::io::Cursor;
use std::sync::OnceLock;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use syntect::highlighting::{Theme, ThemeSet};
use syntect::parsing::{SyntaxReference, SyntaxSet};

use super::highlight::highlight;
use super::wrap::{grapheme_wrap, pad, spans_width, truncate};

/// Colour scheme for highlighted code; pick the one matching the terminal background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeTheme {
    /// Light text for dark terminals.
    #[default]
    Dark,
    /// Dark text for light terminals.
    Light,
}

static SYNTAXES: OnceLock<SyntaxSet> = OnceLock::new();
static THEMES: OnceLock<[Theme; 2]> = OnceLock::new();

pub(super) fn syntaxes() -> &'static SyntaxSet {
    SYNTAXES.get_or_init(SyntaxSet::load_defaults_newlines)
}

pub(super) fn theme(which: CodeTheme) -> &'static Theme {
    let themes = THEMES.get_or_init(|| {
        [
            load_theme(include_bytes!("../../assets/themes/gemma-dark.tmTheme")),
            load_theme(include_bytes!("../../assets/themes/gemma-light.tmTheme")),
        ]
    });
    match which {
        CodeTheme::Dark => &themes[0],
        CodeTheme::Light => &themes[1],
    }
}

/// A bundled theme that fails to parse would be a build mistake (a test guards it);
/// falling back to syntect's empty theme keeps the app usable with plain code.
fn load_theme(bytes: &[u8]) -> Theme {
    ThemeSet::load_from_reader(&mut Cursor::new(bytes)).unwrap_or_default()
}

/// Loads syntaxes and themes and compiles the regexes of the most common languages.
/// Call it from a background thread at startup; it is idempotent and cheap afterwards.
pub fn warm_up() {
    for (lang, sample) in [("rust", "fn main() {}\n"), ("python", "def f(): pass\n")] {
        for which in [CodeTheme::Dark, CodeTheme::Light] {
            let _ = highlight(sample, Some(lang), BlockOptions::new(which));
        }
    }
    for lang in ["sh", "js", "json", "c++", "go", "yaml", "toml"] {
        let _ = highlight("x = [1, \"a\"]\n", Some(lang), BlockOptions::new(CodeTheme::Dark));
    }
}

/// The language named by a fence info string: its first word, without pandoc-style
/// braces/dots or rustdoc attributes (`{.python}`, `rust,ignore`).
pub(crate) fn fence_language(info: &str) -> Option<String> {
    let word = info.split_whitespace().next()?;
    let word = word.trim_start_matches(['{', '.']).trim_end_matches('}');
    let word = word.split(',').next().unwrap_or(word);
    (!word.is_empty()).then(|| word.to_string())
}

/// Maps fence names to a token syntect's bundled syntaxes know. Languages syntect lacks
/// borrow the closest relative (TypeScript reads well as JavaScript, Kotlin as Java); those
/// with no relative there (TOML, Dockerfile, Swift) stay plain text in the same frame.
fn alias(lang: &str) -> &str {
    match lang {
        "rs" => "rust",
        "py" | "py3" | "python3" => "python",
        "sh" | "bash" | "zsh" | "shell" | "console" | "shellscript" | "ksh" => "bash",
        "js" | "javascript" | "jsx" | "mjs" | "cjs" | "ts" | "typescript" | "tsx" => "js",
        "c++" | "cpp" | "cxx" | "cc" | "hpp" | "hxx" => "cpp",
        "cs" | "csharp" | "c#" => "cs",
        "kt" | "kts" | "kotlin" | "java" => "java",
        "yml" | "yaml" => "yaml",
        "md" | "markdown" => "md",
        "json" | "jsonc" | "json5" => "json",
        "go" | "golang" => "go",
        "rb" | "ruby" => "rb",
        "hs" | "haskell" => "hs",
        "objc" | "objective-c" => "m",
        "make" | "makefile" => "makefile",
        "patch" | "diff" => "diff",
        "tex" | "latex" => "tex",
        "pl" | "perl" => "pl",
        other => other,
    }
}

pub(super) fn find_syntax(lang: Option<&str>) -> Option<&'static SyntaxReference> {
    let lang = lang?.to_ascii_lowercase();
    syntaxes().find_syntax_by_token(alias(&lang))
}

/// How one block is to be rendered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockOptions {
    pub(crate) theme: CodeTheme,
    /// The fence is complete: the block will not change, so its highlighting is memoized.
    pub(crate) closed: bool,
    /// Highlighting allowed (false once the document's highlighting budget is spent).
    pub(crate) highlight: bool,
}

impl BlockOptions {
    pub(crate) fn new(theme: CodeTheme) -> Self {
        Self {
            theme,
            closed: true,
            highlight: true,
        }
    }
}

/// Frames and label of one code block.
fn frame_style() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// Renders code block `number` in a box `width` columns wide: `╭─ [1] rust ─╮`, code
/// wrapped inside the frame, `╰──╯`. Below 6 columns there is no room for a frame and the
/// label and code are shown bare. `code` is the raw text; it is sanitized here.
pub(crate) fn render_code_block(
    number: usize,
    lang: Option<&str>,
    code: &str,
    width: usize,
    options: BlockOptions,
) -> Vec<Line<'static>> {
    let clean = crate::sanitize::sanitize(code);
    let label_lang = lang.map(crate::sanitize::sanitize);
    let label = format!(" [{number}] {} ", label_lang.as_deref().unwrap_or("text"));
    let label = vec![Span::styled(label, frame_style().add_modifier(Modifier::BOLD))];
    let highlighted = highlight(&clean, lang, options);
    if width < 6 {
        let mut lines = vec![Line::from(truncate(&label, width))];
        for source in highlighted.iter() {
            lines.extend(grapheme_wrap(source, width).into_iter().map(Line::from));
        }
        return lines;
    }
    let inner = width - 4;
    let mut top = vec![Span::styled("╭─", frame_style())];
    top.extend(truncate(&label, width - 3));
    let fill = width - 1 - spans_width(&top);
    top.push(Span::styled(format!("{}╮", "─".repeat(fill)), frame_style()));
    let mut lines = vec![Line::from(top)];
    for source in highlighted.iter() {
        for mut row in grapheme_wrap(source, inner) {
            pad(&mut row, inner);
            row.insert(0, Span::styled("│ ", frame_style()));
            row.push(Span::styled(" │", frame_style()));
            lines.push(Line::from(row));
        }
    }
    let bottom = format!("╰{}╯", "─".repeat(width - 2));
    lines.push(Line::from(Span::styled(bottom, frame_style())));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_themes_parse() {
        for which in [CodeTheme::Dark, CodeTheme::Light] {
            let t = theme(which);
            assert!(t.settings.foreground.is_some());
            assert!(t.scopes.len() > 10, "{which:?} theme has too few rules");
        }
        assert_ne!(theme(CodeTheme::Dark), theme(CodeTheme::Light));
    }

    #[test]
    fn aliases_resolve() {
        for lang in ["rs", "py", "sh", "bash", "zsh", "js", "ts", "c++", "cpp", "cs", "kt"] {
            assert!(find_syntax(Some(lang)).is_some(), "{lang}");
        }
        for lang in ["yml", "md", "json", "go", "Rust", "PYTHON", "html", "sql", "diff"] {
            assert!(find_syntax(Some(lang)).is_some(), "{lang}");
        }
        assert!(find_syntax(Some("no-such-language")).is_none());
    }

    #[test]
    fn fence_language_takes_first_word() {
        assert_eq!(fence_language("rust,ignore").as_deref(), Some("rust"));
        assert_eq!(fence_language("{.python} extra").as_deref(), Some("python"));
        assert_eq!(fence_language("  "), None);
    }

    #[test]
    fn frame_fits_every_width() {
        for width in 1..40 {
            for line in render_code_block(
                12,
                Some("py"),
                "print('hi')\n",
                width,
                BlockOptions::new(CodeTheme::Light),
            ) {
                assert!(line.width() <= width, "width {width}: {line:?}");
            }
        }
    }
}
