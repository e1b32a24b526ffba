//! Search-result excerpts made in Rust rather than by FTS5's `snippet()`: once the best hits
//! are known, each excerpt needs only its own message's text, whereas `snippet()` re-reads the
//! whole match list of the query for every row (tens of milliseconds for a common word).
//!
//! Words are split and compared the way the `unicode61 remove_diacritics 2` tokenizer does:
//! runs of letters and digits, case-folded, accents removed; a query word matches any word it
//! begins (searches are prefix searches). Owns no SQL.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::records::{SNIPPET_END, SNIPPET_START};

/// Words shown around the first match, like FTS5's `snippet(..., 16)`.
const WINDOW_WORDS: usize = 16;
/// Words kept before the first match, so it has some lead-in.
const LEAD_WORDS: usize = 4;

/// Byte ranges of the words of `text`.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// Lowercase without accents (`É` -> `e`), as the tokenizer compares words.
fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The query's words, folded, for [`excerpt`].
pub(crate) fn terms(query: &str) -> Vec<String> {
    words(query).into_iter().map(|(s, e)| fold(&query[s..e])).collect()
}

/// Up to [`WINDOW_WORDS`] words of `text` from just before its first match, matched words
/// wrapped in [`SNIPPET_START`] / [`SNIPPET_END`], `…` where the text was cut.
pub(crate) fn excerpt(text: &str, terms: &[String]) -> String {
    // The markers must mean only "match": drop any already in the text.
    let text: String = text.replace(SNIPPET_START, "").replace(SNIPPET_END, "");
    let spans = words(&text);
    if spans.is_empty() {
        return String::new();
    }
    let matched: Vec<bool> = spans
        .iter()
        .map(|&(s, e)| {
            let word = fold(&text[s..e]);
            terms.iter().any(|t| !t.is_empty() && word.starts_with(t.as_str()))
        })
        .collect();
    let first = matched.iter().position(|m| *m).unwrap_or(0);
    let start = first.saturating_sub(LEAD_WORDS);
    let end = (start + WINDOW_WORDS).min(spans.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = spans[start].0;
    for i in start..end {
        let (s, e) = spans[i];
        out.push_str(&text[at..s]);
        if matched[i] {
            out.push_str(SNIPPET_START);
            out.push_str(&text[s..e]);
            out.push_str(SNIPPET_END);
        } else {
            out.push_str(&text[s..e]);
        }
        at = e;
    }
    if end < spans.len() {
        out.push('…');
    } else {
        out.push_str(&text[at..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(s: &str) -> String {
        s.replace(SNIPPET_START, "[").replace(SNIPPET_END, "]")
    }

    #[test]
    fn matches_are_marked_by_prefix_ignoring_case_and_accents() {
        let t = terms("CAF bor");
        assert_eq!(
            marked(&excerpt("Un Café with the borrow checker.", &t)),
            "Un [Café] with the [borrow] checker."
        );
        assert_eq!(
            marked(&excerpt("고양이는 귀엽다", &terms("고양이"))),
            "[고양이는] 귀엽다"
        );
    }

    #[test]
    fn long_texts_are_cut_around_the_first_match() {
        let text: String = (0..40).map(|i| format!("w{i} ")).collect::<String>() + "needle tail";
        let out = marked(&excerpt(&text, &terms("needle")));
        assert!(out.starts_with("…w36 w37 w38 w39 [needle] tail"), "{out}");
        let head = marked(&excerpt(&text, &terms("w0")));
        assert!(head.starts_with("[w0] w1") && head.ends_with('…'), "{head}");
        assert_eq!(head.split_whitespace().count(), WINDOW_WORDS);
    }

    #[test]
    fn stray_markers_in_the_text_are_dropped_and_wordless_text_is_empty() {
        let out = excerpt("a\u{2}b\u{3} needle", &terms("needle"));
        assert_eq!(marked(&out), "ab [needle]");
        assert_eq!(excerpt("  !! ", &terms("x")), "");
    }
}
