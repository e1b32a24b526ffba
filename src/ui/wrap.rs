//! Wrapping text to a width in terminal columns, by grapheme, with CJK and emoji counted as
//! two columns. Words wrap whole where they fit; longer ones break between graphemes.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Word-wraps `text` (already sanitized: no controls but `\n`) into rows of at most `width`
/// columns. Spaces at a wrap point are dropped; an empty text gives one empty row.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    for line in text.split('\n') {
        let mut row = String::new();
        let mut used = 0;
        for word in line.split_word_bounds() {
            let w = word.width();
            if used + w <= width {
                row.push_str(word);
                used += w;
            } else if word.trim().is_empty() {
                rows.push(std::mem::take(&mut row));
                used = 0;
            } else if w <= width {
                rows.push(std::mem::take(&mut row));
                row.push_str(word);
                used = w;
            } else {
                for g in word.graphemes(true) {
                    let gw = g.width();
                    if used + gw > width && used > 0 {
                        rows.push(std::mem::take(&mut row));
                        used = 0;
                    }
                    row.push_str(g);
                    used += gw;
                }
            }
        }
        rows.push(row);
    }
    rows
}

/// Wraps by grapheme (the message box, where the caret must map exactly) and returns the rows
/// and the caret's (row, column). A caret at the end of a full row sits at the next row's start.
pub fn wrap_chars(text: &str, width: usize, caret: usize) -> (Vec<String>, (usize, usize)) {
    let width = width.max(1);
    let mut rows = vec![String::new()];
    let mut used = 0;
    let mut at = None;
    for (offset, g) in text.grapheme_indices(true) {
        if offset == caret {
            at = Some((rows.len() - 1, used));
        }
        if g == "\n" {
            rows.push(String::new());
            used = 0;
            continue;
        }
        let gw = g.width();
        if used + gw > width && used > 0 {
            if at == Some((rows.len() - 1, used)) {
                at = Some((rows.len(), 0));
            }
            rows.push(String::new());
            used = 0;
        }
        if let Some(row) = rows.last_mut() {
            row.push_str(g);
        }
        used += gw;
    }
    let mut caret_at = at.unwrap_or((rows.len() - 1, used));
    if caret_at.1 >= width {
        rows.push(String::new());
        caret_at = (rows.len() - 1, 0);
    }
    (rows, caret_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_whole_and_cjk_counts_double() {
        assert_eq!(wrap_words("hello big world", 9), vec!["hello big", "world"]);
        assert_eq!(wrap_words("안녕하세요 세계", 10), vec!["안녕하세요", "세계"]);
        assert_eq!(wrap_words("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap_words("a\n\nb", 4), vec!["a", "", "b"]);
        for row in wrap_words("👍🏽👍🏽👍🏽 日本語のテキスト", 5) {
            assert!(row.width() <= 5, "{row}");
        }
    }

    #[test]
    fn the_caret_maps_to_its_row_and_column() {
        // The caret before a wide character that wrapped sits where that character is drawn.
        let (rows, at) = wrap_chars("ab한", 3, "ab".len());
        assert_eq!(rows, vec!["ab", "한"]);
        assert_eq!(at, (1, 0));
        let (_, at) = wrap_chars("ab한", 4, "ab".len());
        assert_eq!(at, (0, 2));
        let (_, at) = wrap_chars("abc", 3, 3);
        assert_eq!(at, (1, 0));
        let (rows, at) = wrap_chars("a\nb", 5, 2);
        assert_eq!(rows, vec!["a", "b"]);
        assert_eq!(at, (1, 0));
        let (_, at) = wrap_chars("", 0, 0);
        assert_eq!(at, (0, 0));
    }
}
