//! Property tests: width bound, no control characters, and no text lost or invented by
//! wrapping.

use proptest::prelude::*;

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

fn is_forbidden(c: char) -> bool {
    c.is_control() || ('\u{202A}'..='\u{202E}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn lines_fit_and_cells_are_clean(md in markdownish(), width in 1u16..200, light: bool) {
        let theme = if light { CodeTheme::Light } else { CodeTheme::Dark };
        for line in render(&md, width, theme) {
            prop_assert!(line.width() <= usize::from(width), "{} > {}: {:?}", line.width(), width, line);
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
