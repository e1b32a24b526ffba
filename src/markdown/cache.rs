//! Per-message cache of rendered lines, so a frame only renders what changed, with a
//! throttle for the one message that is still streaming in.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use ratatui::text::Line;

use super::{render, CodeTheme};

/// A streaming message is re-rendered at most this often (about 30 times a second):
/// tokens arrive faster than the eye reads, and each render re-parses the whole answer.
pub const STREAM_INTERVAL: Duration = Duration::from_millis(33);

/// A streaming render that took `t` blocks the next one for `SLOW_RENDER_FACTOR * t`,
/// so a huge answer takes at most a quarter of the UI thread's time while it streams.
const SLOW_RENDER_FACTOR: u32 = 4;

/// What a set of rendered lines was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    width: u16,
    theme: CodeTheme,
    len: usize,
    hash: u64,
}

impl Key {
    fn new(text: &str, width: u16, theme: CodeTheme) -> Self {
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        Self {
            width,
            theme,
            len: text.len(),
            hash: hasher.finish(),
        }
    }
}

struct Entry {
    key: Key,
    lines: Vec<Line<'static>>,
    /// Earliest time a streaming update may be rendered again.
    next_render: Instant,
}

/// Rendered lines per message id. Finished messages render once per (width, theme, text);
/// the streaming message renders at most every [`STREAM_INTERVAL`], showing the previous
/// lines in between.
#[derive(Default)]
pub struct MarkdownCache {
    entries: HashMap<u64, Entry>,
    renders: u64,
}

impl MarkdownCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lines for message `id` with content `text` at `width`. With `streaming`, a
    /// changed text is re-rendered only when the last render is old enough (see the
    /// module docs); a width or theme change, or `streaming == false`, always renders
    /// fresh. `now` is the frame's clock, passed in so the caller (and tests) control time.
    pub fn lines(
        &mut self,
        id: u64,
        text: &str,
        width: u16,
        theme: CodeTheme,
        streaming: bool,
        now: Instant,
    ) -> &[Line<'static>] {
        let key = Key::new(text, width, theme);
        let fresh = match self.entries.get(&id) {
            None => false,
            Some(entry) if entry.key == key => true,
            Some(entry) => {
                let same_layout = entry.key.width == width && entry.key.theme == theme;
                streaming && same_layout && now < entry.next_render
            }
        };
        if !fresh {
            let started = Instant::now();
            let lines = render(text, width, theme);
            let cost = started.elapsed();
            self.renders += 1;
            let next_render = now + STREAM_INTERVAL.max(cost * SLOW_RENDER_FACTOR);
            self.entries.insert(
                id,
                Entry {
                    key,
                    lines,
                    next_render,
                },
            );
        }
        self.entries.get(&id).map_or(&[], |entry| entry.lines.as_slice())
    }

    /// Drops the cached lines of one message (deleted, or edited and about to change).
    pub fn remove(&mut self, id: u64) {
        self.entries.remove(&id);
    }

    /// Keeps only the messages for which `keep` returns true (e.g. those still in the
    /// conversation), to bound memory in long sessions.
    pub fn retain(&mut self, mut keep: impl FnMut(u64) -> bool) {
        self.entries.retain(|id, _| keep(*id));
    }

    /// Drops everything (new conversation).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// How many renders this cache has performed; for tests and diagnostics.
    pub fn render_count(&self) -> u64 {
        self.renders
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn only_the_changed_message_is_rendered_again() {
        let mut cache = MarkdownCache::new();
        let t0 = Instant::now();
        cache.lines(1, "# One", 40, CodeTheme::Dark, false, t0);
        cache.lines(2, "Two *words*", 40, CodeTheme::Dark, false, t0);
        assert_eq!(cache.render_count(), 2);
        // Next frame: nothing changed.
        cache.lines(1, "# One", 40, CodeTheme::Dark, false, t0 + SEC);
        cache.lines(2, "Two *words*", 40, CodeTheme::Dark, false, t0 + SEC);
        assert_eq!(cache.render_count(), 2);
        // Message 2 grows: only it renders.
        cache.lines(1, "# One", 40, CodeTheme::Dark, false, t0 + 2 * SEC);
        let lines = cache.lines(2, "Two *words* more", 40, CodeTheme::Dark, true, t0 + 2 * SEC);
        assert_eq!(lines[0].to_string(), "Two words more");
        assert_eq!(cache.render_count(), 3);
    }

    #[test]
    fn streaming_renders_are_throttled_but_finishing_is_not() {
        let mut cache = MarkdownCache::new();
        let t0 = Instant::now();
        cache.lines(7, "Hel", 40, CodeTheme::Dark, true, t0);
        let ms = Duration::from_millis(1);
        let lines = cache.lines(7, "Hello", 40, CodeTheme::Dark, true, t0 + 5 * ms);
        assert_eq!(lines[0].to_string(), "Hel", "too soon: previous lines");
        assert_eq!(cache.render_count(), 1);
        let lines = cache.lines(7, "Hello", 40, CodeTheme::Dark, false, t0 + 6 * ms);
        assert_eq!(lines[0].to_string(), "Hello", "finished: rendered at once");
        assert_eq!(cache.render_count(), 2);
        cache.lines(7, "Hello!", 40, CodeTheme::Dark, true, t0 + 10 * SEC);
        assert_eq!(cache.render_count(), 3, "old enough: rendered");
    }

    #[test]
    fn width_and_theme_changes_render_at_once() {
        let mut cache = MarkdownCache::new();
        let t0 = Instant::now();
        cache.lines(1, "text", 40, CodeTheme::Dark, true, t0);
        cache.lines(1, "text more", 30, CodeTheme::Dark, true, t0);
        cache.lines(1, "text more", 30, CodeTheme::Light, true, t0);
        assert_eq!(cache.render_count(), 3);
        cache.remove(1);
        cache.lines(1, "text more", 30, CodeTheme::Light, false, t0);
        assert_eq!(cache.render_count(), 4);
        cache.retain(|id| id != 1);
        cache.clear();
        assert!(cache.entries.is_empty());
    }
}
