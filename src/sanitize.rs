//! Terminal-safe text: the one place that turns untrusted text into something we may print.
//!
//! Everything that comes from outside — model output, pastes, file contents — is stored raw and
//! passed through this module at every sink (the screen, the window title, stdout). ratatui only
//! drops the ESC byte of an escape sequence and leaves the rest visible, and a raw write to
//! stdout drops nothing, so this is the defence against escape-sequence injection (clipboard
//! writes via OSC 52, title set/report, terminal reset, cursor tricks, bidi spoofing).
//!
//! What it owns:
//! - removing whole escape sequences (CSI, OSC, DCS, APC, PM, SOS, two-byte and charset
//!   escapes, in their 7-bit `ESC x` and 8-bit C1 forms), every other control character except
//!   `\n`, bidi controls and invisible format characters;
//! - normalising line endings (`\r\n` -> `\n`, a lone `\r` is removed) and expanding `\t` to
//!   spaces up to the next multiple-of-4 display column;
//! - doing the same for text that arrives in chunks ([`StreamSanitizer`]), with exactly the same
//!   result as sanitizing the whole text at once.
//!
//! What it must not do: style, wrap or otherwise interpret text (that is the renderer's job);
//! perform I/O; let any control character other than `\n` through; allocate when the text is
//! already clean (the common case is one scan and a borrow).
//!
//! The unterminated-sequence rule: a sequence is removed only when it is complete. A string
//! sequence (OSC, DCS, APC, PM, SOS) that meets a newline, an ESC not starting `ESC \`, another
//! C1 control, the end of the text, or grows past [`MAX_PENDING`] bytes before its terminator is
//! *unterminated*; a CSI or `ESC`-intermediate escape that meets a byte outside its grammar
//! before the final byte is *malformed*. In both cases only the introducer is removed and what
//! followed it is sanitized again as ordinary text. Once the introducer is gone that text is
//! harmless, and a stray `ESC ]` in model output cannot make the rest of an answer disappear.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

/// Longest escape sequence (in bytes, introducer included) held back while waiting for its end.
/// Longer ones are resolved as unterminated, so a stream never holds back more than this.
/// The same rule applies to whole-text sanitizing so both give the same result.
pub const MAX_PENDING: usize = 4096;

/// Tab stops are every this many display columns.
const TAB_WIDTH: usize = 4;

/// Longest window title, in characters.
pub const MAX_TITLE_CHARS: usize = 80;

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
/// 8-bit C1 String Terminator.
const ST: char = '\u{9c}';

/// Makes `text` safe to show in a terminal. Borrows when nothing needs to change.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let Some(start) = text.find(needs_work) else {
        return Cow::Borrowed(text);
    };
    let (clean, rest) = text.split_at(start);
    let mut out = String::with_capacity(text.len());
    out.push_str(clean);
    let mut engine = Engine::at_column(column_after(clean));
    engine.feed(rest, &mut out);
    engine.finish(&mut out);
    Cow::Owned(out)
}

/// One line of at most [`MAX_TITLE_CHARS`] characters for a window title: sanitized, with line
/// breaks and runs of whitespace collapsed to single spaces, trimmed, and cut with `…`.
pub fn sanitize_title(text: &str) -> String {
    let clean = sanitize(text);
    let mut title = String::new();
    for (count, word) in clean.split_whitespace().enumerate() {
        if count > 0 {
            title.push(' ');
        }
        title.push_str(word);
    }
    if title.chars().count() <= MAX_TITLE_CHARS {
        return title;
    }
    let mut cut: String = title.chars().take(MAX_TITLE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Sanitizes text that arrives in chunks, such as a model streaming to stdout.
///
/// For any split of a text into chunks, the concatenation of everything [`push`](Self::push)
/// and [`finish`](Self::finish) return equals [`sanitize`] of the whole text. Only a trailing
/// sequence that may still be incomplete is held back, at most [`MAX_PENDING`] bytes.
#[derive(Debug, Default)]
pub struct StreamSanitizer {
    engine: Engine,
}

impl StreamSanitizer {
    /// A sanitizer for a new text, starting at column 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the part of the text so far that is safe to print now.
    pub fn push(&mut self, chunk: &str) -> String {
        let mut out = String::with_capacity(chunk.len());
        self.engine.feed(chunk, &mut out);
        out
    }

    /// Ends the text: a held-back sequence is resolved as unterminated. The sanitizer is then
    /// ready for a new text starting at column 0.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        self.engine.finish(&mut out);
        self.engine = Engine::default();
        out
    }
}

/// Whether `c` is anything other than text that passes through unchanged.
fn needs_work(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control() && c != '\n';
    }
    c.is_control() || is_invisible_format(c)
}

/// Bidi controls (they can make code read differently from how it runs) and invisible format
/// characters (they hide text or split look-alike words). ZWJ U+200D, ZWNJ U+200C and the
/// variation selectors are deliberately kept: emoji sequences and scripts such as Persian and
/// the Indic ones need them to render correctly.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
            | '\u{200b}'
            | '\u{2060}'..='\u{2064}'
            | '\u{feff}'
            | '\u{180e}'
            | '\u{00ad}'
    )
}

/// Display column (modulo the tab width) after `text`, counted from its last line break.
fn column_after(text: &str) -> usize {
    let line = text.rsplit('\n').next().unwrap_or_default();
    line.chars().fold(0, advance)
}

/// Column (modulo the tab width) after printing `c` at `column`. Counting char by char is how a
/// terminal advances its cursor, and it lets a stream track the column across chunks.
fn advance(column: usize, c: char) -> usize {
    (column + c.width().unwrap_or(0)) % TAB_WIDTH
}

/// Where the parser is. Everything but `Ground` has the sequence so far in `Engine::pending`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Ground,
    /// Seen ESC.
    Esc,
    /// `ESC` followed by intermediates 0x20-0x2F, such as a charset select `ESC ( B`.
    EscIntermediate,
    /// Control Sequence; `intermediate` once an intermediate byte has been seen, after which
    /// parameter bytes are no longer allowed.
    Csi { intermediate: bool },
    /// OSC, DCS, APC, PM or SOS body; `esc` right after an ESC that may begin `ESC \`.
    Str { esc: bool },
}

/// The char-driven state machine shared by [`sanitize`] and [`StreamSanitizer`]. Its decisions
/// depend only on the characters seen, never on where a chunk ends, which is what makes
/// streaming and whole-text sanitizing agree.
#[derive(Debug, Default)]
struct Engine {
    state: State,
    /// Raw text of the sequence being parsed, introducer included.
    pending: String,
    /// Byte length of the introducer at the start of `pending`.
    intro_len: usize,
    /// Display column of the output, modulo the tab width.
    column: usize,
}

impl Engine {
    fn at_column(column: usize) -> Self {
        Self {
            column,
            ..Self::default()
        }
    }

    fn feed(&mut self, text: &str, out: &mut String) {
        for c in text.chars() {
            self.step(c, out);
        }
    }

    /// Resolves whatever is still pending as unterminated.
    fn finish(&mut self, out: &mut String) {
        // Replaying a body can leave a new sequence pending (a body may end in ESC), so loop;
        // every round removes at least the introducer, so this ends.
        while self.state != State::Ground {
            self.abandon(None, out);
        }
    }

    fn step(&mut self, c: char, out: &mut String) {
        match self.state {
            State::Ground => self.ground(c, out),
            State::Esc => self.after_esc(c, out),
            State::EscIntermediate => self.esc_intermediate(c, out),
            State::Csi { intermediate } => self.csi(c, intermediate, out),
            State::Str { esc } => self.string_body(c, esc, out),
        }
    }

    fn ground(&mut self, c: char, out: &mut String) {
        let next = match c {
            ESC => State::Esc,
            '\u{9b}' => State::Csi { intermediate: false },
            // OSC, DCS, APC, PM, SOS in their 8-bit form.
            '\u{9d}' | '\u{90}' | '\u{9f}' | '\u{9e}' | '\u{98}' => State::Str { esc: false },
            _ => return self.emit(c, out),
        };
        self.begin(c, next);
    }

    fn after_esc(&mut self, c: char, out: &mut String) {
        match c {
            '[' => self.begin(c, State::Csi { intermediate: false }),
            // OSC, DCS, APC, PM, SOS.
            ']' | 'P' | '_' | '^' | 'X' => self.begin(c, State::Str { esc: false }),
            '\u{20}'..='\u{2f}' => self.begin(c, State::EscIntermediate),
            // A complete two-byte escape: `ESC c`, `ESC 7`, `ESC =`, `ESC \`, ...
            '\u{30}'..='\u{7e}' => self.complete(),
            // A lone ESC: drop it and treat `c` afresh (it may be another ESC).
            _ => {
                self.complete();
                self.step(c, out);
            }
        }
    }

    fn esc_intermediate(&mut self, c: char, out: &mut String) {
        match c {
            '\u{20}'..='\u{2f}' => self.hold(c, out),
            '\u{30}'..='\u{7e}' => self.complete(),
            _ => self.abandon(Some(c), out),
        }
    }

    fn csi(&mut self, c: char, intermediate: bool, out: &mut String) {
        match c {
            '\u{30}'..='\u{3f}' if !intermediate => self.hold(c, out),
            '\u{20}'..='\u{2f}' => {
                self.state = State::Csi { intermediate: true };
                self.hold(c, out);
            }
            '\u{40}'..='\u{7e}' => self.complete(),
            _ => self.abandon(Some(c), out),
        }
    }

    fn string_body(&mut self, c: char, esc: bool, out: &mut String) {
        match c {
            '\\' if esc => self.complete(),
            // ESC then anything but `\` starts a new sequence: this one never ended.
            _ if esc => self.abandon(Some(c), out),
            BEL | ST => self.complete(),
            ESC => {
                self.state = State::Str { esc: true };
                self.hold(c, out);
            }
            '\n' | '\u{80}'..='\u{9f}' => self.abandon(Some(c), out),
            _ => self.hold(c, out),
        }
    }

    /// Starts (or extends the introducer of) a sequence.
    fn begin(&mut self, c: char, state: State) {
        self.pending.push(c);
        self.intro_len = self.pending.len();
        self.state = state;
    }

    /// Adds `c` to the pending sequence, or gives up on the sequence if it would grow too long.
    fn hold(&mut self, c: char, out: &mut String) {
        if self.pending.len() + c.len_utf8() > MAX_PENDING {
            self.abandon(Some(c), out);
        } else {
            self.pending.push(c);
        }
    }

    /// The pending sequence is complete: drop all of it.
    fn complete(&mut self) {
        self.pending.clear();
        self.state = State::Ground;
    }

    /// The pending sequence is unterminated or malformed: drop only its introducer and
    /// sanitize what followed it, then `next`, as ordinary text.
    fn abandon(&mut self, next: Option<char>, out: &mut String) {
        let held = std::mem::take(&mut self.pending);
        let body = held.get(self.intro_len..).unwrap_or_default();
        self.state = State::Ground;
        // A body holds no ESC or C1 control except possibly a final ESC, so replaying it
        // cannot start another long sequence: the work stays linear.
        for c in body.chars().chain(next) {
            self.step(c, out);
        }
    }

    /// Writes one character of ordinary text, the only place output is produced.
    fn emit(&mut self, c: char, out: &mut String) {
        match c {
            '\n' => {
                out.push('\n');
                self.column = 0;
            }
            '\t' => {
                let spaces = TAB_WIDTH - self.column;
                out.extend(std::iter::repeat_n(' ', spaces));
                self.column = 0;
            }
            // `\r\n` becomes `\n` and a lone `\r` goes: either way the `\r` is dropped, so no
            // look-ahead is needed.
            _ if c.is_control() || is_invisible_format(c) => {}
            _ => {
                out.push(c);
                self.column = advance(self.column, c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Written out independently of `is_invisible_format`, so a slip there shows up here.
    const REMOVED_FORMATS: &[char] = &[
        '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        '\u{200e}', '\u{200f}', '\u{061c}', '\u{200b}', '\u{2060}', '\u{2061}', '\u{2062}', '\u{2063}', '\u{2064}',
        '\u{feff}', '\u{180e}', '\u{00ad}',
    ];

    fn is_safe(c: char) -> bool {
        c == '\n' || !(c.is_control() || ('\u{80}'..='\u{9f}').contains(&c) || REMOVED_FORMATS.contains(&c))
    }

    fn s(text: &str) -> String {
        sanitize(text).into_owned()
    }

    fn stream(chunks: &[&str]) -> String {
        let mut sanitizer = StreamSanitizer::new();
        let mut out: String = chunks.iter().map(|c| sanitizer.push(c)).collect();
        out.push_str(&sanitizer.finish());
        out
    }

    #[test]
    fn clean_text_is_borrowed() {
        for text in ["", "hello", "한국어 👍 line\nnext", "👨\u{200d}👩\u{200d}👧 e\u{301}"] {
            assert!(matches!(sanitize(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn osc52_clipboard_write_is_removed() {
        assert_eq!(s("a\x1b]52;c;ZWNobyBwd25lZA==\x07b"), "ab");
        assert_eq!(s("a\u{9d}52;c;ZWNobyBwd25lZA==\u{9c}b"), "ab");
    }

    #[test]
    fn title_set_and_report_are_removed() {
        assert_eq!(s("\x1b]0;pwned\x07ok"), "ok");
        assert_eq!(s("\x1b]2;pwned\x1b\\ok"), "ok");
        assert_eq!(s("x\x1b[21ty"), "xy");
    }

    #[test]
    fn reset_and_two_byte_escapes_are_removed() {
        assert_eq!(s("a\x1bcb"), "ab");
        assert_eq!(s("a\x1b7\x1b8\x1b=\x1b>b"), "ab");
        assert_eq!(s("a\x1b(Bb\x1b)0c\x1b#8d\x1b%Ge"), "abcde");
    }

    #[test]
    fn eight_bit_csi_is_removed() {
        assert_eq!(s("\u{9b}31mred\u{9b}0m"), "red");
    }

    #[test]
    fn unterminated_osc_keeps_following_text() {
        assert_eq!(s("before\x1b]0;title\nafter"), "before0;title\nafter");
        assert_eq!(s("before\x1b]8;;http://x"), "before8;;http://x");
        // A terminator on a later line does not reach back: the newline already ended it.
        assert_eq!(s("\x1b]0;a\nb\x07c"), "0;a\nbc");
        assert_eq!(s("a\u{9d}0;t\u{9b}31mb"), "a0;tb");
        // ESC inside the body starts a new sequence, which is itself removed.
        assert_eq!(s("\x1b]0;t\x1b[31mred"), "0;tred");
    }

    #[test]
    fn dcs_apc_pm_sos_with_terminators_are_removed() {
        assert_eq!(s("a\x1bP1$r0m\x1b\\b"), "ab");
        assert_eq!(s("a\u{90}q#0;2\u{9c}b"), "ab");
        assert_eq!(s("a\x1b_apc\x07b\x1b^pm\x1b\\c\x1bXsos\x1b\\d"), "abcd");
    }

    #[test]
    fn cursor_moves_and_styles_are_removed() {
        assert_eq!(s("\x1b[2J\x1b[H\x1b[10;20Hx\x1b[?25l\x1b[1A\x1b[38;5;196my"), "xy");
        assert_eq!(s("a\x1b[ qb"), "ab");
    }

    #[test]
    fn malformed_csi_removes_only_the_introducer() {
        assert_eq!(s("\x1b[31\nx"), "31\nx");
        assert_eq!(s("\x1b[ 1m"), " 1m");
        assert_eq!(s("\x1b[12"), "12");
    }

    #[test]
    fn carriage_return_overwrite_tricks_are_defused() {
        assert_eq!(s("echo safe\rrm -rf ~"), "echo saferm -rf ~");
        assert_eq!(s("a\r\nb\r\n"), "a\nb\n");
        assert_eq!(s("hidden\x08\x08\x08\x08\x08\x08shown"), "hiddenshown");
    }

    #[test]
    fn bidi_override_in_code_is_removed() {
        let code = "if access_level != \"user\u{202e} \u{2066}// Check if admin\u{2069} \u{2066}\" {";
        assert_eq!(s(code), "if access_level != \"user // Check if admin \" {");
        assert_eq!(s("a\u{200b}b\u{feff}c\u{ad}d\u{61c}e"), "abcde");
    }

    #[test]
    fn joiners_and_variation_selectors_are_kept() {
        let text = "👨\u{200d}👩\u{200d}👧 ❤\u{fe0f} می\u{200c}خواهم";
        assert_eq!(s(text), text);
    }

    #[test]
    fn other_controls_are_removed() {
        assert_eq!(s("a\x00b\x07c\x7fd\u{85}e\u{9c}f"), "abcdef");
        assert_eq!(s("a\x1b"), "a");
        assert_eq!(s("a\x1b\x1b[1mb"), "ab");
        assert_eq!(s("a\x1b한b"), "a한b");
    }

    #[test]
    fn tabs_expand_to_display_columns() {
        assert_eq!(s("\tx"), "    x");
        assert_eq!(s("ab\tc"), "ab  c");
        assert_eq!(s("abcd\te"), "abcd    e");
        assert_eq!(s("한\tx"), "한  x");
        assert_eq!(s("a\nb\tc"), "a\nb   c");
        assert_eq!(s("a\x1b[1m\tb"), "a   b");
        assert_eq!(stream(&["한", "a", "\t", "b"]), "한a b");
    }

    #[test]
    fn long_unterminated_sequence_is_bounded() {
        let body = "x".repeat(MAX_PENDING + 10);
        let text = format!("\x1b]{body}\x07z");
        assert_eq!(s(&text), format!("{body}z"));
        let mut sanitizer = StreamSanitizer::new();
        let mut out = sanitizer.push("\x1b]");
        for _ in 0..MAX_PENDING + 10 {
            out.push_str(&sanitizer.push("x"));
            assert!(sanitizer.engine.pending.len() <= MAX_PENDING);
        }
        out.push_str(&sanitizer.push("\x07z"));
        out.push_str(&sanitizer.finish());
        assert_eq!(out, format!("{body}z"));
    }

    #[test]
    fn stream_holds_back_only_a_possible_sequence() {
        let mut sanitizer = StreamSanitizer::new();
        assert_eq!(sanitizer.push("hello \x1b]0;ti"), "hello ");
        assert_eq!(sanitizer.push("tle\x07world\x1b"), "world");
        assert_eq!(sanitizer.push("[1mbold"), "bold");
        assert_eq!(sanitizer.push("\x1b]unterminated"), "");
        assert_eq!(sanitizer.finish(), "unterminated");
        assert_eq!(sanitizer.push("\tnew"), "    new");
    }

    #[test]
    fn titles_are_one_bounded_line() {
        assert_eq!(sanitize_title("  a\nb\t c\x1b]0;x\x07 "), "a b c");
        let long = "é".repeat(200);
        let title = sanitize_title(&long);
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
        assert!(title.ends_with('…'));
        assert_eq!(sanitize_title(&"e".repeat(MAX_TITLE_CHARS)).len(), MAX_TITLE_CHARS);
    }

    /// Escape-heavy text: mostly pieces that build and break sequences, plus any character.
    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            6 => prop::sample::select(vec![
                "\x1b", "[", "]", "\x07", "\\", "\u{9b}", "\u{9c}", "\u{9d}", "\u{90}", "\u{9f}",
                "\u{98}", "\u{9e}", "P", "_", "^", "X", "(", " ", "#", ";", "?", "\n", "\r", "\t",
                "\r\n", "한", "글", "👍", "👨\u{200d}👩", "\u{fe0f}", "\u{202e}", "\u{200b}",
                "\u{ad}", "\x7f", "\x00", "\u{85}", "é", "m", "H",
            ]).prop_map(str::to_owned),
            3 => "[0-9a-zA-Z]{1,3}",
            1 => any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..48).prop_map(|pieces| pieces.concat())
    }

    /// Whole escape sequences of every kind the sanitizer removes, in their 7-bit and 8-bit
    /// forms, some cut short or left unterminated.
    fn sequence() -> impl Strategy<Value = String> {
        let csi = (
            prop::sample::select(vec!["\x1b[", "\u{9b}"]),
            "[0-9;:?<=>]{0,8}",
            "[ -/]{0,2}",
            "[@-~]?",
        )
            .prop_map(|(intro, params, mids, last)| format!("{intro}{params}{mids}{last}"));
        let intro = prop::sample::select(vec![
            "\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX", "\u{9d}", "\u{90}", "\u{9f}", "\u{9e}", "\u{98}",
        ]);
        let body = prop_oneof![
            "[ -~]{0,24}",
            "52;[cp];[A-Za-z0-9+/=]{0,16}",
            "8;;https?://[a-z.]{1,12}",
            "[0-2];[^\\x00-\\x1f\\x7f-\\x9f]{0,12}",
            Just("21t".to_owned()),
        ];
        let end = prop::sample::select(vec!["\x07", "\x1b\\", "\u{9c}", "", "\n", "\x1b"]);
        let string = (intro, body, end).prop_map(|(i, b, e)| format!("{i}{b}{e}"));
        prop_oneof![
            3 => csi,
            3 => string,
            1 => "\x1b[ -/]{0,2}[0-~]",
            1 => "[\\x80-\\x9f]",
        ]
    }

    /// An OSC that never ends, then up to 10 KB of text: past the hold limit.
    fn unterminated_then_long_text() -> impl Strategy<Value = String> {
        (
            prop::sample::select(vec!["\x1b]", "\u{9d}", "\x1bP"]),
            "[0-9;a-z]{0,8}",
            0..10_240usize,
        )
            .prop_map(|(intro, head, len)| format!("{intro}{head}{}", "x".repeat(len)))
    }

    /// Arbitrary bytes as they would reach the sanitizer: decoded, invalid ones replaced.
    fn lossy_bytes() -> impl Strategy<Value = String> {
        let byte = prop_oneof![
            3 => any::<u8>(),
            1 => prop::sample::select(vec![0x1b_u8, b'[', b']', b'P', 0x07, b'\\', b'\n', b'\r', b'\t', 0xc2]),
        ];
        prop::collection::vec(byte, 0..128).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// What the fuzz targets feed the sanitizer: all of the above, mixed.
    fn untrusted() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            4 => hostile(),
            4 => sequence(),
            1 => unterminated_then_long_text(),
            1 => lossy_bytes(),
            1 => any::<String>(),
        ];
        prop::collection::vec(part, 0..8).prop_map(|parts| parts.concat())
    }

    /// Splits `text` at the given offsets, moved back to char boundaries.
    fn split_at(text: &str, cuts: &[usize]) -> Vec<String> {
        let mut points: Vec<usize> = cuts
            .iter()
            .map(|&cut| {
                let mut at = cut % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                at
            })
            .collect();
        points.push(0);
        points.push(text.len());
        points.sort_unstable();
        points.windows(2).map(|w| text[w[0]..w[1]].to_owned()).collect()
    }

    fn stream_owned(chunks: &[String]) -> String {
        let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        stream(&refs)
    }

    proptest! {
        #![proptest_config(crate::fuzzing::config(1000))]

        #[test]
        fn fuzz_no_control_survives(text in untrusted()) {
            let out = sanitize(&text);
            prop_assert!(out.chars().all(is_safe), "{:?} -> {:?}", text, out);
        }

        #[test]
        fn fuzz_no_control_survives_any_unicode(text in any::<String>()) {
            prop_assert!(sanitize(&text).chars().all(is_safe));
        }

        #[test]
        fn idempotent(text in hostile()) {
            let once = sanitize(&text).into_owned();
            let twice = sanitize(&once);
            prop_assert!(matches!(twice, Cow::Borrowed(_)));
            prop_assert_eq!(twice, once.as_str());
        }

        #[test]
        fn clean_text_passes_unchanged_and_borrowed(text in any::<String>()) {
            let clean: String = text.chars().filter(|&c| is_safe(c)).collect();
            prop_assert!(matches!(sanitize(&clean), Cow::Borrowed(t) if t == clean));
        }

        #[test]
        fn fuzz_stream_matches_whole(
            text in untrusted(),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        ) {
            let chunks = split_at(&text, &cuts);
            prop_assert_eq!(stream_owned(&chunks), s(&text));
        }

        #[test]
        fn fuzz_stream_char_by_char_matches_whole(text in untrusted()) {
            let chunks: Vec<String> = text.chars().map(String::from).collect();
            prop_assert_eq!(stream_owned(&chunks), s(&text));
        }

        #[test]
        fn fuzz_titles_are_one_clean_bounded_line(text in untrusted()) {
            let title = sanitize_title(&text);
            prop_assert!(title.chars().all(|c| is_safe(c) && c != '\n'), "{:?}", title);
            prop_assert!(title.chars().count() <= MAX_TITLE_CHARS);
            prop_assert_eq!(title.trim(), title.as_str());
        }
    }

    proptest! {
        // Long inputs: fewer cases keep the unoptimised test build quick.
        #![proptest_config(crate::fuzzing::config(128))]

        #[test]
        fn fuzz_stream_matches_whole_near_the_hold_limit(
            head in hostile(),
            len in (MAX_PENDING - 8)..(MAX_PENDING + 8),
            tail in hostile(),
            cuts in prop::collection::vec(any::<usize>(), 0..6),
        ) {
            let text = format!("{head}{}{tail}", "x".repeat(len));
            let chunks = split_at(&text, &cuts);
            prop_assert_eq!(stream_owned(&chunks), s(&text));
        }
    }
}
