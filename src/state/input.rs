//! The message box: a multi-line text with a caret, edited by grapheme cluster.
//!
//! It owns what enters the box: typed and pasted text is cleaned by the sanitizer (so the box
//! only ever holds printable text, `\n` and spaces: tabs expanded), normalised to NFC, and
//! bounded. It must not know about keys, the screen or the engine.

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use crate::sanitize::sanitize;

/// The most one paste may add. A 5 MB paste is cut here (and the user told) rather than
/// re-wrapped on every frame.
pub const MAX_PASTE_BYTES: usize = 256 * 1024;
/// The most the box holds in all.
pub const MAX_INPUT_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputBox {
    text: String,
    /// Byte offset, always on a grapheme boundary.
    caret: usize,
}

/// What an insertion did, for the notice the user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// Bytes of the (cleaned) text that did not fit.
    pub dropped_bytes: usize,
}

impl InputBox {
    pub fn text(&self) -> &str {
        &self.text
    }
    pub fn caret(&self) -> usize {
        self.caret
    }
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
    pub fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// Replaces the content (editing a sent message); the caret goes to the end.
    pub fn set(&mut self, text: &str) {
        self.text.clear();
        self.caret = 0;
        self.insert(text, MAX_INPUT_BYTES);
    }

    /// Empties the box and returns what it held.
    pub fn take(&mut self) -> String {
        self.caret = 0;
        std::mem::take(&mut self.text)
    }

    /// Inserts typed or pasted text at the caret, cleaned and cut to `limit` bytes and to what
    /// the box still has room for.
    pub fn insert(&mut self, raw: &str, limit: usize) -> Inserted {
        let raw = raw.replace("\r\n", "\n").replace('\r', "\n");
        let clean = sanitize(&raw);
        let room = MAX_INPUT_BYTES.saturating_sub(self.text.len()).min(limit);
        let piece = cut_at_char(&clean, room);
        let dropped_bytes = clean.len() - piece.len();
        self.text.insert_str(self.caret, piece);
        self.caret += piece.len();
        self.normalize();
        Inserted { dropped_bytes }
    }

    /// Keeps the text NFC (macOS pastes decomposed Hangul; some IMEs send jamo one by one) and
    /// the caret after the same characters it followed.
    fn normalize(&mut self) {
        if is_nfc_quick(self.text.chars()) == IsNormalized::Yes {
            return;
        }
        let before: String = self.text[..self.caret].nfc().collect();
        let whole: String = self.text.nfc().collect();
        self.caret = if whole.starts_with(&before) {
            before.len()
        } else {
            whole.len()
        };
        self.text = whole;
        self.snap_caret();
    }

    fn snap_caret(&mut self) {
        self.caret = self.caret.min(self.text.len());
        while !self.text.is_char_boundary(self.caret) {
            self.caret -= 1;
        }
    }

    fn prev_boundary(&self) -> usize {
        self.text[..self.caret]
            .grapheme_indices(true)
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self) -> usize {
        self.text[self.caret..]
            .graphemes(true)
            .next()
            .map_or(self.caret, |g| self.caret + g.len())
    }

    pub fn left(&mut self) {
        self.caret = self.prev_boundary();
    }
    pub fn right(&mut self) {
        self.caret = self.next_boundary();
    }

    pub fn delete_back(&mut self) {
        let start = self.prev_boundary();
        self.text.replace_range(start..self.caret, "");
        self.caret = start;
    }

    pub fn delete_forward(&mut self) {
        let end = self.next_boundary();
        self.text.replace_range(self.caret..end, "");
    }

    fn line_start_of(&self, at: usize) -> usize {
        self.text[..at].rfind('\n').map_or(0, |i| i + 1)
    }
    fn line_end_of(&self, at: usize) -> usize {
        self.text[at..].find('\n').map_or(self.text.len(), |i| at + i)
    }

    pub fn line_start(&mut self) {
        self.caret = self.line_start_of(self.caret);
    }
    pub fn line_end(&mut self) {
        self.caret = self.line_end_of(self.caret);
    }

    /// Moves to the previous logical line at the same display column. Returns false on the
    /// first line, so the caller may do something else with the key.
    pub fn up(&mut self) -> bool {
        let start = self.line_start_of(self.caret);
        if start == 0 {
            return false;
        }
        let column = self.text[start..self.caret].width();
        let prev_start = self.line_start_of(start - 1);
        self.caret = self.at_column(prev_start, start - 1, column);
        true
    }

    /// Moves to the next logical line at the same display column; false on the last line.
    pub fn down(&mut self) -> bool {
        let end = self.line_end_of(self.caret);
        if end == self.text.len() {
            return false;
        }
        let column = self.text[self.line_start_of(self.caret)..self.caret].width();
        let next_end = self.line_end_of(end + 1);
        self.caret = self.at_column(end + 1, next_end, column);
        true
    }

    /// The grapheme boundary in `start..end` closest to display `column` without passing it.
    fn at_column(&self, start: usize, end: usize, column: usize) -> usize {
        let mut width = 0;
        for (i, g) in self.text[start..end].grapheme_indices(true) {
            width += g.width();
            if width > column {
                return start + i;
            }
        }
        end
    }

    pub fn word_left(&mut self) {
        self.caret = self.word_start_before(self.caret);
    }

    pub fn word_right(&mut self) {
        let rest = &self.text[self.caret..];
        let skip_space = rest.len() - rest.trim_start().len();
        let word = rest[skip_space..]
            .find(char::is_whitespace)
            .unwrap_or(rest.len() - skip_space);
        self.caret += skip_space + word;
    }

    fn word_start_before(&self, at: usize) -> usize {
        let head = self.text[..at].trim_end();
        head.rfind(char::is_whitespace)
            .map_or(0, |i| i + head[i..].chars().next().map_or(1, char::len_utf8))
    }

    pub fn delete_word_back(&mut self) {
        let start = self.word_start_before(self.caret);
        self.text.replace_range(start..self.caret, "");
        self.caret = start;
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn cut_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(text: &str) -> InputBox {
        let mut b = InputBox::default();
        b.insert(text, MAX_PASTE_BYTES);
        b
    }

    #[test]
    fn edits_by_grapheme() {
        let mut b = boxed("a👍🏽한");
        b.delete_back();
        assert_eq!(b.text(), "a👍🏽");
        b.delete_back();
        assert_eq!(b.text(), "a");
        let mut b = boxed("e\u{301}x");
        b.left();
        b.left();
        assert_eq!(b.caret(), 0);
        b.delete_forward();
        assert_eq!(b.text(), "x");
    }

    #[test]
    fn decomposed_hangul_becomes_nfc_and_the_caret_follows() {
        let mut b = boxed("\u{1112}\u{1161}\u{11ab}"); // 한 as jamo
        assert_eq!(b.text(), "한");
        assert_eq!(b.caret(), "한".len());
        b.left();
        b.insert("\u{1100}\u{1173}", MAX_PASTE_BYTES); // 그 before 한
        assert_eq!(b.text(), "그한");
        assert_eq!(b.caret(), "그".len());
    }

    #[test]
    fn tabs_expand_and_escapes_and_carriage_returns_are_cleaned() {
        let b = boxed("a\tb\r\nc\x1b]52;c;AAAA\x07d\re");
        assert_eq!(b.text(), "a   b\ncd\ne");
    }

    #[test]
    fn a_paste_is_cut_at_the_limit_on_a_char_boundary() {
        let mut b = InputBox::default();
        let big = "한".repeat(1_000_000);
        let done = b.insert(&big, MAX_PASTE_BYTES);
        assert!(b.text().len() <= MAX_PASTE_BYTES && b.text().len() > MAX_PASTE_BYTES - 3);
        assert_eq!(done.dropped_bytes, big.len() - b.text().len());
    }

    #[test]
    fn up_and_down_keep_the_display_column() {
        let mut b = boxed("한국어\nabcdef");
        assert!(b.up());
        assert_eq!(&b.text()[..b.caret()], "한국어");
        b.line_start();
        b.right();
        assert!(b.down());
        assert_eq!(&b.text()[..b.caret()], "한국어\nab");
        assert!(!b.down());
    }

    #[test]
    fn words() {
        let mut b = boxed("hello big world");
        b.delete_word_back();
        assert_eq!(b.text(), "hello big ");
        b.word_left();
        assert_eq!(b.caret(), 6);
        b.word_right();
        assert_eq!(b.caret(), 9);
    }
}
