//! Fast word wrap for one-style plain text (the part of a huge answer past the parse cap).
//! Every output line is a slice of the input, so wrapping megabytes costs one allocation
//! per line instead of one per word. It breaks exactly where `WordWrapper` does.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;

use super::wrap::str_width;

/// The line being built: `text[start..end]`, `width` columns.
struct Cursor<'t> {
    text: &'t str,
    style: Style,
    width: usize,
    out: Vec<Line<'static>>,
    start: usize,
    end: usize,
    used: usize,
    /// The line holds at least one word.
    filled: bool,
    /// The line began at a soft wrap (a space before its first word is dropped).
    soft: bool,
    /// The last line pushed is a `…` stand-in that is still the current line.
    parked: bool,
}

impl Cursor<'_> {
    fn flush(&mut self) {
        let line = self.text[self.start..self.end].to_string();
        self.out.push(Line::from(Span::styled(line, self.style)));
        (self.used, self.filled, self.parked) = (0, false, false);
    }

    fn wrap_to(&mut self, at: usize) {
        if self.filled {
            self.flush();
        }
        (self.start, self.end, self.soft) = (at, at, true);
    }

    fn word(&mut self, at: usize, word: &str) {
        let word_w = str_width(word);
        let space_w = if self.filled || !self.soft {
            str_width(&self.text[self.end..at])
        } else {
            0
        };
        let fits = self.used + space_w + word_w <= self.width;
        self.parked = false;
        if fits || (word_w > self.width && self.used + space_w + 4 <= self.width) {
            if !self.filled && self.soft {
                self.start = at;
            }
            self.used += space_w;
        } else {
            self.wrap_to(at);
        }
        if word_w <= self.width - self.used {
            (self.end, self.used, self.filled) = (at + word.len(), self.used + word_w, true);
            return;
        }
        // Too long for any line: what is on the line so far (words or leading spaces)
        // stays, and the word is broken grapheme by grapheme.
        self.end = at;
        self.filled = self.used > 0;
        for (offset, g) in word.grapheme_indices(true) {
            self.grapheme(at + offset, g);
        }
    }

    fn grapheme(&mut self, at: usize, g: &str) {
        let w = str_width(g);
        if w > self.width {
            // Wider than the whole line: a one-column stand-in on a line of its own.
            self.wrap_to(at);
            self.out.push(Line::from(Span::styled("…", self.style)));
            (self.start, self.end, self.parked) = (at + g.len(), at + g.len(), true);
            return;
        }
        self.parked = false;
        if self.used + w > self.width {
            self.wrap_to(at);
        }
        (self.end, self.used, self.filled) = (at + g.len(), self.used + w, true);
    }
}

/// Wraps `text` to `width` columns like `WordWrapper` fed the same text in one style.
pub(crate) fn wrap_plain(text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    let mut cursor = Cursor {
        text,
        style,
        width: width.max(1),
        out: Vec::new(),
        start: 0,
        end: 0,
        used: 0,
        filled: false,
        soft: false,
        parked: false,
    };
    let mut offset = 0;
    for hard in text.split('\n') {
        (cursor.start, cursor.end, cursor.soft, cursor.parked) = (offset, offset, false, false);
        for (at, word) in words(hard) {
            cursor.word(offset + at, word);
        }
        let last = offset + hard.len() == text.len();
        if cursor.filled || !(last || cursor.parked) {
            cursor.flush();
        }
        offset += hard.len() + 1;
    }
    cursor.out
}

/// The non-whitespace runs of `line` with their offsets.
fn words(line: &str) -> impl Iterator<Item = (usize, &str)> {
    // Each part is a word (maybe empty) followed by one whitespace character.
    line.split_inclusive(char::is_whitespace)
        .scan(0, |pos, part| {
            let at = *pos;
            *pos += part.len();
            Some((at, part.trim_end_matches(char::is_whitespace)))
        })
        .filter(|(_, part)| !part.is_empty())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::wrap::wrap_spans;
    use super::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn matches_examples() {
        assert_eq!(texts(&wrap_plain("aaa bbb ccc", 7, Style::new())), ["aaa bbb", "ccc"]);
        assert_eq!(texts(&wrap_plain("a\n\nb\n", 9, Style::new())), ["a", "", "b"]);
        assert_eq!(
            texts(&wrap_plain("abcdefghij", 4, Style::new())),
            ["abcd", "efgh", "ij"]
        );
    }

    proptest! {
        #[test]
        fn same_breaks_as_the_word_wrapper(
            text in "([a-z]{1,9}|한|🦀|[ ]{1,3}|\n){0,40}",
            width in 1usize..30,
        ) {
            let fast = texts(&wrap_plain(&text, width, Style::new()));
            let slow = texts(&wrap_spans(&[Span::raw(text.clone())], width));
            prop_assert_eq!(fast, slow);
        }
    }
}
