//! Snapshot tests of the rendering as it appears in a terminal (ratatui's `TestBackend`),
//! style checks the text snapshots cannot show, and the pathological inputs (checked for
//! finishing and being capped, never timed).

use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Terminal;

use super::*;

/// Renders `md` at `width` into a test terminal exactly as tall as the output.
fn screen(md: &str, width: u16) -> String {
    let lines = render(md, width, CodeTheme::Dark);
    assert_fits(&lines, width);
    let height = u16::try_from(lines.len().max(1)).expect("test output fits a terminal");
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| frame.render_widget(Paragraph::new(lines), frame.area()))
        .expect("draw");
    terminal.backend().to_string()
}

fn assert_fits(lines: &[Line<'_>], width: u16) {
    for line in lines {
        assert!(line.width() <= usize::from(width), "too wide for {width}: {line}");
    }
}

#[test]
fn headings_and_emphasis() {
    let md = "# Title\n\nSome *italic*, **bold**, ~~struck~~ and `code` text.\n\n## Section\n\n### Sub\n\nEnd.";
    insta::assert_snapshot!(screen(md, 40));
}

#[test]
fn block_quote_with_nested_quote() {
    let md = "> A quoted paragraph that is long enough to wrap.\n>\n> > nested quote\n\nAfter.";
    insta::assert_snapshot!(screen(md, 30));
}

#[test]
fn nested_lists_hang_indent() {
    let md = "- first item with text that wraps around\n- second\n  - nested one\n    - deeper\n  - nested two\n\n1. one\n2. two, also wrapping onto a second line\n   1. inner\n10. ten";
    insta::assert_snapshot!(screen(md, 30));
}

#[test]
fn task_list() {
    let md = "- [x] write the renderer\n- [ ] write the tests that check wrapping of long items\n- plain item";
    insta::assert_snapshot!(screen(md, 30));
}

#[test]
fn links_show_url_and_long_urls_break() {
    let md = "See [the docs](https://docs.rs/ratatui) or <https://example.com>.\n\nLong: [x](https://example.com/a/very/long/path/that/never/ends/at/all?query=1&more=2)\n\nMail <me@example.com>.";
    insta::assert_snapshot!(screen(md, 32));
}

#[test]
fn horizontal_rule() {
    insta::assert_snapshot!(screen("above\n\n---\n\nbelow", 20));
}

#[test]
fn korean_table_aligned_by_display_width() {
    let md = "| 이름 | 나이 | 설명 |\n|:--|--:|:-:|\n| 김철수 | 30 | 개발자 🦀 |\n| Lee | 7 | 학생 |";
    insta::assert_snapshot!(screen(md, 40));
}

#[test]
fn wide_table_shrinks_and_wraps() {
    let md = "| Option | Meaning |\n|---|---|\n| `--width` | Sets the width of the rendered output in terminal columns |\n| `-q` | Quiet |";
    insta::assert_snapshot!(screen(md, 36));
}

#[test]
fn table_on_tiny_width_becomes_records() {
    let md = "| a | b | c | d |\n|---|---|---|---|\n| 1 | 2 | 3 | 4 |\n| 5 | 6 | 7 | 8 |";
    insta::assert_snapshot!(screen(md, 12));
}

#[test]
fn rust_block() {
    let md = "Example:\n\n```rust\nfn main() {\n    let greeting = \"hello\"; // a comment that is long enough to wrap\n    println!(\"{greeting}\");\n}\n```";
    insta::assert_snapshot!(screen(md, 50));
}

#[test]
fn python_block_is_numbered_after_the_first() {
    let md = "```sh\ncargo run\n```\n\n```py\ndef add(a, b):\n    return a + b\n```\n\n```nosuchlang\nplain text\n```";
    insta::assert_snapshot!(screen(md, 40));
}

#[test]
fn half_streamed_fence_renders_as_code() {
    let md = "Here is the fix:\n\n```rust\nfn main() {\n    println!(\"hel";
    insta::assert_snapshot!(screen(md, 40));
}

#[test]
fn code_block_inside_list_item() {
    let md = "1. Install:\n\n   ```bash\n   cargo install gemma-tui\n   ```\n2. Run it.";
    insta::assert_snapshot!(screen(md, 40));
}

#[test]
fn tiny_width() {
    let md = "# Heading text\n\n- item *one* wraps\n  - nested\n\n> quote here\n\n```rust\nlet x = 1;\n```\n\n| 한국 | b |\n|--|--|\n| 어 | c |";
    insta::assert_snapshot!(screen(md, 12));
}

#[test]
fn styles_reach_the_spans() {
    let lines = render(
        "# H\n\n[t](https://a.b) **b**\n\n```rust\nfn f() {}\n```",
        40,
        CodeTheme::Dark,
    );
    let span = |line: usize, text: &str| {
        lines[line]
            .spans
            .iter()
            .find(|s| s.content.trim() == text)
            .cloned()
            .expect(text)
    };
    assert!(span(0, "H").style.add_modifier.contains(Modifier::BOLD));
    assert_eq!(span(2, "(https://a.b)").style.fg, Some(Color::DarkGray));
    assert!(span(2, "b").style.add_modifier.contains(Modifier::BOLD));
    assert!(matches!(span(5, "fn").style.fg, Some(Color::Rgb(..))));
}

#[test]
fn control_and_bidi_characters_never_reach_cells() {
    let md = "Hi \u{1b}[31mred\u{7} \u{202E}evil\n\n```rust\nlet s = \"\u{2066}x\u{2069}\u{1b}]8;;http://x\u{7}\";\n```\n\n| \u{9b}a | b |\n|--|--|\n| c | d |";
    for line in render(md, 30, CodeTheme::Light) {
        for span in &line.spans {
            assert!(
                !span.content.chars().any(|c| c.is_control()
                    || ('\u{202A}'..='\u{202E}').contains(&c)
                    || ('\u{2066}'..='\u{2069}').contains(&c)),
                "{span:?}"
            );
        }
    }
}

#[test]
fn labels_match_code_blocks() {
    let md = "```rust\na\n```\n\n    indented\n\n- ```py\n  b\n  ```";
    let text: String = render(md, 40, CodeTheme::Dark)
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    for block in code_blocks(md) {
        let label = format!("[{}] {}", block.number, block.language.as_deref().unwrap_or("text"));
        assert!(text.contains(&label), "missing {label} in\n{text}");
    }
}

#[test]
fn huge_answer_without_line_breaks_is_capped() {
    let md = "word ".repeat(1024 * 1024);
    let lines = render(&md, 120, CodeTheme::Dark);
    assert_fits(&lines, 120);
    let note = lines.iter().position(|l| l.to_string().contains("shown as plain text"));
    assert!(note.is_some(), "the cap note is shown");
    let words: usize = lines.iter().map(|l| l.to_string().matches("word").count()).sum();
    assert_eq!(words, 1024 * 1024, "every word is still shown, none cut at the cap");
}

#[test]
fn deep_json_brackets_stay_plain() {
    let md = format!("```json\n{}\n```", "[".repeat(100_000));
    let lines = render(&md, 80, CodeTheme::Dark);
    assert_fits(&lines, 80);
    // Unhighlighted: each body row is one plain span between the frame's two.
    assert!(lines[1..lines.len() - 1].iter().all(|l| l.spans.len() <= 4));
}

#[test]
fn deep_nesting_is_capped() {
    for md in [
        "- ".repeat(5_000) + "x",
        ">".repeat(5_000) + " x",
        "* a\n".to_string()
            + &(1..5_000)
                .map(|d| format!("{}* a\n", "  ".repeat(d)))
                .collect::<String>(),
    ] {
        let md: String = md.chars().take(MAX_MARKDOWN_BYTES).collect();
        let lines = render(&md, 200, CodeTheme::Dark);
        assert_fits(&lines, 200);
        assert!(!lines.is_empty());
    }
}

/// Found by `fuzz_lines_fit_and_cells_are_clean`: `unicode-width` counts lam-alef as one column
/// and a halfwidth sound mark as none, but the buffer gives each grapheme its own cell, so the
/// frame's right edge fell off the screen.
#[test]
fn code_frames_fit_the_buffer_with_lam_alef_and_halfwidth_sound_marks() {
    for text in ["لا", "ｶﾞ", "لالالا ﾟﾟ"] {
        let lines = render(&format!("```rust\n{text}\n```"), 13, CodeTheme::Dark);
        let body = &lines[1];
        let mut buffer = ratatui::buffer::Buffer::empty(ratatui::layout::Rect::new(0, 0, 13, 1));
        buffer.set_line(0, 0, body, 13);
        assert_eq!(buffer[(12, 0)].symbol(), "│", "{text}: {body:?}");
    }
}

#[test]
fn zero_width_renders_nothing() {
    assert!(render("text", 0, CodeTheme::Dark).is_empty());
}

#[test]
fn highlighting_budget_runs_out_per_answer() {
    // 30 KB in 512 lines: under the block caps, but three of them exceed the budget.
    let row = format!("[1, \"{}\", true],\n", "a".repeat(44));
    let block = format!("```json\n{}```\n\n", row.repeat(512));
    let lines = render(&block.repeat(3), 80, CodeTheme::Dark);
    // Body rows: frame, content..., padding, frame. Highlighted rows have more spans.
    let coloured = |label: &str| {
        let start = lines.iter().position(|l| l.to_string().contains(label)).expect(label);
        lines[start + 1].spans.len() > 4
    };
    assert!(coloured("[1] json") && coloured("[2] json"));
    assert!(!coloured("[3] json"), "over {MAX_HIGHLIGHT_DOC_BYTES} bytes: plain");
}

/// The sizes of the hostile-input list: 100,000 backticks (one run, and as many one-tick code
/// spans), a table of 10,000 columns, and 5,000 levels of nesting: no panic, lines within the
/// frame.
#[test]
fn pathological_markdown_at_full_size_renders_within_the_frame() {
    let row = |cell: &str| format!("|{}|\n", vec![cell; 10_000].join("|"));
    let table = format!("{}{}{}", row("h"), row("---"), row("x"));
    let cases = [
        "`".repeat(100_000),
        "`a".repeat(50_000),
        table,
        "> ".repeat(5_000) + "deep",
        "- ".repeat(5_000) + "deep",
        "*".repeat(50_000) + "emphasis?",
    ];
    for md in &cases {
        for width in [1, 2, 80] {
            let lines = render(md, width, CodeTheme::Dark);
            assert_fits(&lines, width);
        }
    }
}
