//! Scrolling the transcript: follow the newest text at the bottom, stay put when scrolled up.

use crate::state::{AppState, Scroll, Viewport};

/// Moves the view by `lines` (negative: up). Reaching the bottom resumes following.
pub(super) fn by(state: &mut AppState, lines: i64) {
    let max_top = state.viewport.max_top();
    let top = match state.scroll {
        Scroll::Follow => max_top,
        Scroll::Pinned { top } => top.min(max_top),
    };
    let target = (top as i64 + lines).clamp(0, max_top as i64) as usize;
    state.scroll = if target >= max_top {
        Scroll::Follow
    } else {
        Scroll::Pinned { top: target }
    };
}

pub(super) fn top(state: &mut AppState) {
    state.scroll = if state.viewport.max_top() == 0 {
        Scroll::Follow
    } else {
        Scroll::Pinned { top: 0 }
    };
}

pub(super) fn bottom(state: &mut AppState) {
    state.scroll = Scroll::Follow;
}

/// After a frame: a pinned view takes the top it was drawn at (see [`Viewport::top`]); one
/// that now reaches the bottom (the window grew, text was removed) follows again.
pub(super) fn on_drawn(state: &mut AppState, viewport: Viewport) {
    state.viewport = viewport;
    // A smaller window may have less to scroll: keep the help within it.
    if let Some(crate::state::Overlay::Help { scroll }) = &mut state.overlay {
        *scroll = (*scroll).min(viewport.help_max_scroll);
    }
    if let Scroll::Pinned { .. } = state.scroll {
        state.scroll = if viewport.top >= viewport.max_top() {
            Scroll::Follow
        } else {
            Scroll::Pinned { top: viewport.top }
        };
    }
}
