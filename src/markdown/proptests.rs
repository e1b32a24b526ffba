//! Property tests: width bound, no control characters, and no text lost or invented by
//! wrapping. The `fuzz_` ones are the renderer's fuzz targets (see `docs/reliability.md`).

use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

use super::*;

/// Markdown-ish input: syntax characters, wide characters, controls and bidi marks mixed
/// with words and line breaks.
fn markdownish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z]{1,12}",
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("\n\n".to_string()),
        prop::sample::select(vec![
            "# ",
            "- ",
            "1. ",
            "> ",
            "**",
            "*",
            "`",
            "~~",
            "```rust\n",
            "```\n",
            "| a | b |\n|--|--|\n",
            "[x](https://e.com/aaaaaaaaaaaaaaaa)",
            "- [ ] ",
            "    ",
            "한국어",
            "🦀",
            "\t",
            "\u{1b}[1m",
            "\u{202E}",
            "\u{7}",
            "\r",
            "---\n",
            "<br>",
            "\u{85}",
        ])
        .prop_map(str::to_string),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// Characters that are hard to measure: wide, joined, combining, zero-width, right-to-left.
fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[一-龥]{1,8}",
        "[가-힣]{1,6}",
        prop::sample::select(vec![
            "\u{1100}\u{1161}\u{11a8}",
            "\u{1100}\u{1161}",
            "\u{1161}",
            "👨\u{200d}👩\u{200d}👧\u{200d}👦",
            "🇰🇷",
            "🇰",
            "e\u{301}\u{302}",
            "\u{301}",
            "❤\u{fe0f}",
            "\u{fe0f}",
            "ＡＢＣ",
            "لا",
            "שלום",
            "\u{200b}",
            "\u{200d}",
            "क्षि",
            "ก่",
            "\u{ad}",
            "🦀🦀🦀",
            "\u{3000}",
            "ｶﾞ",
            "ﾟ",
        ])
        .prop_map(str::to_string),
        any::<char>().prop_map(String::from),
    ]
}

/// Markdown that stresses structure: deep nesting, backtick runs, wide tables, long lines.
fn structure() -> impl Strategy<Value = String> {
    prop_oneof![
        "((> )|(- )|(1\\. )|(  )|(\\* )){1,40}[a-z]{0,8}\n",
        (1..64usize).prop_map(|n| "`".repeat(n)),
        (1..4_000usize).prop_map(|n| "`".repeat(n)),
        (1..200usize, 0..4usize).prop_map(|(cols, rows)| table(cols, rows)),
        (200..4_000usize).prop_map(|n| "x".repeat(n)),
        prop::collection::vec("[a-z]{1,8}", 50..400).prop_map(|words| words.join(" ")),
        Just("```\n".to_string()),
        Just("~~~py\n".to_string()),
        Just("[".repeat(300)),
        Just("<details>\n".to_string()),
    ]
}

fn table(cols: usize, rows: usize) -> String {
    let row = |cell: &str| format!("|{}\n", format!(" {cell} |").repeat(cols));
    let mut out = row("h");
    out += &format!("|{}\n", "--|".repeat(cols));
    for _ in 0..rows {
        out += &row("한 cell");
    }
    out
}

/// What the fuzz target renders: the Markdown-ish pieces above, mixed.
fn hostile_markdown() -> impl Strategy<Value = String> {
    let part = prop_oneof![6 => markdownish(), 3 => tricky_text(), 2 => structure()];
    prop::collection::vec(part, 0..12).prop_map(|parts| parts.concat())
}

/// Frame widths, with the smallest ones (1 and 2) much more often than their share.
fn frame_width() -> impl Strategy<Value = u16> {
    prop_oneof![3 => 0u16..=4, 1 => 5u16..=12, 2 => 13u16..300]
}

/// Columns the terminal buffer advances for `line`: it places span by span, grapheme by
/// grapheme, which need not add up to `Line::width`.
fn cells(line: &Line<'_>) -> usize {
    let graphemes = line.spans.iter().flat_map(|s| s.content.graphemes(true));
    graphemes.map(wrap::str_width).sum()
}

fn is_forbidden(c: char) -> bool {
    c.is_control() || ('\u{202A}'..='\u{202E}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c)
}

proptest! {
    #![proptest_config(crate::fuzzing::config(300))]

    #[test]
    fn fuzz_lines_fit_and_cells_are_clean(md in hostile_markdown(), width in frame_width(), light: bool) {
        let theme = if light { CodeTheme::Light } else { CodeTheme::Dark };
        code_blocks(&md);
        for line in render(&md, width, theme) {
            prop_assert!(line.width() <= usize::from(width), "{} > {}: {:?}", line.width(), width, line);
            prop_assert!(cells(&line) <= usize::from(width), "{} cells > {}: {:?}", cells(&line), width, line);
            for span in &line.spans {
                prop_assert!(!span.content.chars().any(is_forbidden), "{:?}", span);
            }
        }
    }

    #[test]
    fn plain_paragraph_text_survives_wrapping(
        words in prop::collection::vec("[a-zA-Z,]{1,30}", 1..40),
        width in 1u16..200,
    ) {
        let input = words.join(" ");
        let lines = render(&input, width, CodeTheme::Dark);
        let output: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        prop_assert_eq!(squeeze(&output.join(" ")), squeeze(&input));
        if words.iter().all(|w| w.len() <= usize::from(width)) {
            // Words that fit are never split: only the spaces at wrap points go.
            prop_assert_eq!(output.join(" "), input);
        }
    }
}
