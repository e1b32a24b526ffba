//! Rendered lines per turn, and the layout of the visible part of the transcript.
//!
//! Only what is seen is rendered. Turns the view has not reached count with an estimated
//! height (from their text's display width), so resuming a 10,000-message session or resizing
//! a long chat renders a screenful, not the whole history. A rendered turn is cached by
//! (turn id, revision) for the current width; a new width starts over.
//!
//! The answer that is streaming in is re-rendered at most every [`STREAM_INTERVAL`] (longer
//! when a render is slow): tokens arrive faster than anyone reads, and a Markdown render
//! re-parses the whole answer. In between, the previous lines stay on screen and
//! [`TranscriptCache::pending`] tells the driver to come back for another frame.
//!
//! Scrolling stays put while heights change: when a turn that starts above the top of the
//! view is rendered and turns out taller or shorter than estimated, the top moves with it
//! (the returned [`Viewport::top`]), so the text under the user's eyes does not jump.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ratatui::text::Line;
use unicode_width::UnicodeWidthStr;

use super::turn::{render_turn, BodyStyle};
use crate::state::{Scroll, Turn, TurnStatus, Viewport};

/// A streaming answer is re-rendered at most this often (about 30 times a second).
pub const STREAM_INTERVAL: Duration = Duration::from_millis(33);

/// A streaming render that took `t` holds the next one back for this many times `t`, so a
/// huge answer takes at most a fifth of the UI thread while it streams.
const SLOW_RENDER_FACTOR: u32 = 4;

struct Rendered {
    revision: u64,
    lines: Vec<Line<'static>>,
    /// Earliest time a newer revision of a streaming turn may be rendered.
    next_render: Instant,
}

/// Rendered lines per turn for one width and body style.
pub struct TranscriptCache {
    style: BodyStyle,
    width: u16,
    rendered: HashMap<u64, Rendered>,
    /// Estimated heights of turns not rendered yet, by (revision, height).
    estimates: HashMap<u64, (u64, usize)>,
    /// The clock of the next frame; `None` reads the real one (tests and benches set it).
    clock: Option<Instant>,
    pending: bool,
    /// How many turn renders happened, for tests and benches.
    pub renders: u64,
}

impl Default for TranscriptCache {
    fn default() -> Self {
        Self::new(BodyStyle::default())
    }
}

/// The transcript's area and how answers are drawn in it.
#[derive(Debug, Clone, Copy)]
pub(super) struct View {
    pub width: u16,
    pub height: usize,
    pub style: BodyStyle,
}

/// What a frame shows of the transcript.
pub(super) struct Layout {
    pub viewport: Viewport,
    pub lines: Vec<Line<'static>>,
}

impl TranscriptCache {
    pub fn new(style: BodyStyle) -> Self {
        Self {
            style,
            width: 0,
            rendered: HashMap::new(),
            estimates: HashMap::new(),
            clock: None,
            pending: false,
            renders: 0,
        }
    }

    /// Sets the time the next frames are drawn at (benches simulate a frame rate with it).
    pub fn set_clock(&mut self, now: Instant) {
        self.clock = Some(now);
    }

    /// Whether the last frame showed a streaming answer older than its text: the driver must
    /// draw again soon even if nothing else happens.
    pub fn pending(&self) -> bool {
        self.pending
    }

    /// Lays out `turns` in a view `height` rows tall and `width` wide, rendering what shows.
    pub(super) fn layout(&mut self, turns: &[Turn], view: View, scroll: Scroll) -> Layout {
        let View { width, height, style } = view;
        let now = self.clock.unwrap_or_else(Instant::now);
        self.pending = false;
        if style != self.style {
            // The settings changed how answers are drawn: every rendered turn is stale.
            self.style = style;
            self.rendered.clear();
            self.estimates.clear();
        }
        self.forget_other_widths_and_turns(turns, width);
        let mut heights: Vec<usize> = turns.iter().map(|t| self.height_of(t)).collect();
        let top = match scroll {
            Scroll::Pinned { top } => self.fill_from(turns, &mut heights, top, height, now),
            Scroll::Follow => None,
        };
        let top = match top {
            Some(top) => top,
            None => self.fill_from_bottom(turns, &mut heights, height, now),
        };
        let total_lines = heights.iter().sum();
        let viewport = Viewport {
            total_lines,
            height,
            top,
            help_max_scroll: 0,
        };
        Layout {
            viewport,
            lines: self.visible(turns, top, height),
        }
    }

    /// Renders the last turns until they fill the view; returns the top (the bottom of all).
    fn fill_from_bottom(&mut self, turns: &[Turn], heights: &mut [usize], height: usize, now: Instant) -> usize {
        let mut filled = 0;
        for (i, turn) in turns.iter().enumerate().rev() {
            if filled >= height {
                break;
            }
            heights[i] = self.ensure(turn, now);
            filled += heights[i];
        }
        heights.iter().sum::<usize>().saturating_sub(height)
    }

    /// Renders the turns from line `top` down until they fill the view; returns the top,
    /// moved with the first turn's change of height, or `None` when the view reaches the
    /// bottom (it then shows the bottom, like following).
    fn fill_from(
        &mut self,
        turns: &[Turn],
        heights: &mut [usize],
        mut top: usize,
        height: usize,
        now: Instant,
    ) -> Option<usize> {
        let mut start = 0;
        let first = heights.iter().position(|&h| {
            let past = start + h > top;
            if !past {
                start += h;
            }
            past
        })?;
        let mut row = start;
        for (i, turn) in turns.iter().enumerate().skip(first) {
            let estimated = heights[i];
            heights[i] = self.ensure(turn, now);
            if i == first && start < top {
                // Keep the part of this turn below the top where it was.
                top = (top + heights[i]).saturating_sub(estimated).max(start);
            }
            row += heights[i];
            if row >= top + height {
                return Some(top);
            }
        }
        None
    }

    /// The height to count a turn with: rendered if it was, else estimated.
    fn height_of(&mut self, turn: &Turn) -> usize {
        if let Some(r) = self.rendered.get(&turn.id) {
            return r.lines.len();
        }
        if turn.speaker == crate::state::Speaker::Note {
            return super::turn::NOTE_HEIGHT;
        }
        match self.estimates.get(&turn.id) {
            Some(&(revision, h)) if revision == turn.revision => h,
            _ => {
                let h = estimate_height(&turn.text, self.width);
                self.estimates.insert(turn.id, (turn.revision, h));
                h
            }
        }
    }

    /// Renders `turn` unless its lines are current, or it is streaming and was rendered too
    /// recently; returns its height.
    fn ensure(&mut self, turn: &Turn, now: Instant) -> usize {
        if let Some(r) = self.rendered.get(&turn.id) {
            if r.revision == turn.revision {
                return r.lines.len();
            }
            if turn.status == TurnStatus::Streaming && now < r.next_render {
                self.pending = true;
                return r.lines.len();
            }
        }
        let started = Instant::now();
        let lines = render_turn(turn, self.width, self.style);
        let cost = started.elapsed();
        self.renders += 1;
        let height = lines.len();
        let rendered = Rendered {
            revision: turn.revision,
            lines,
            next_render: now + STREAM_INTERVAL.max(cost * SLOW_RENDER_FACTOR),
        };
        self.rendered.insert(turn.id, rendered);
        self.estimates.remove(&turn.id);
        height
    }

    fn forget_other_widths_and_turns(&mut self, turns: &[Turn], width: u16) {
        if width != self.width {
            self.rendered.clear();
            self.estimates.clear();
            self.width = width;
        }
        if self.rendered.len() + self.estimates.len() > 2 * turns.len() {
            let live: std::collections::HashSet<u64> = turns.iter().map(|t| t.id).collect();
            self.rendered.retain(|id, _| live.contains(id));
            self.estimates.retain(|id, _| live.contains(id));
        }
    }

    /// Clones only the lines in `top..top + height`. Every turn there was rendered by the
    /// fill; one that was not (it cannot happen) shows as blank rows rather than shifting.
    fn visible(&self, turns: &[Turn], top: usize, height: usize) -> Vec<Line<'static>> {
        let mut out = Vec::with_capacity(height);
        let mut skip = top;
        for turn in turns {
            let (lines, count) = match self.rendered.get(&turn.id) {
                Some(r) => (r.lines.as_slice(), r.lines.len()),
                None => (&[][..], self.estimates.get(&turn.id).map_or(0, |e| e.1)),
            };
            if skip >= count {
                skip -= count;
                continue;
            }
            for row in skip..count {
                if out.len() == height {
                    return out;
                }
                out.push(lines.get(row).cloned().unwrap_or_default());
            }
            skip = 0;
        }
        out
    }
}

/// A turn's height before it is rendered: its header, its text's rows at this width, the gap.
fn estimate_height(text: &str, width: u16) -> usize {
    let body = usize::from(width.saturating_sub(super::turn::GUTTER_WIDTH).max(1));
    let rows: usize = if text.is_empty() {
        0
    } else {
        text.split('\n').map(|line| line.width().div_ceil(body).max(1)).sum()
    };
    2 + rows
}
