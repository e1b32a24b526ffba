//! Time to first token and decode speed, measured where the tokens arrive, the same way for
//! every backend.

use std::time::Instant;

use super::protocol::Usage;

/// Time to first token and decode speed, measured where the tokens arrive.
pub struct TokenClock {
    started: Instant,
    first: Option<Instant>,
    last: Option<Instant>,
    count: usize,
}

impl TokenClock {
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            first: None,
            last: None,
            count: 0,
        }
    }

    pub fn tick(&mut self) {
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.count += 1;
    }

    pub fn usage(&self, prompt_tokens: usize, dropped_turns: usize) -> Usage {
        let decode_tokens_per_second = match (self.first, self.last) {
            (Some(first), Some(last)) if self.count > 1 && last > first => {
                Some((self.count - 1) as f64 / (last - first).as_secs_f64())
            }
            _ => None,
        };
        Usage {
            prompt_tokens,
            completion_tokens: self.count,
            time_to_first_token: self.first.map(|f| f - self.started),
            decode_tokens_per_second,
            dropped_turns,
        }
    }
}
