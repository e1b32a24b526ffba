//! The logits processor that gemma-tui hangs into every mistral.rs request.
//!
//! mistral.rs 0.8.1 streams *text* whose added tokens shaped like `<...>` are dropped and whose
//! first delta is left-trimmed, so the text cannot match transformers. Token ids are exact, but
//! the stream does not carry them. A custom logits processor sees the whole context before every
//! sampling step, so it learns each sampled id one step later; this processor forwards those
//! ids, ends the answer at `max_new_tokens` itself (by forcing the stop token, which is why the
//! last real token is still observed), stops within one token on cancel, and applies min-p,
//! which mistral.rs ignores unless `0 < top_p < 1`.
//!
//! It also applies the repetition, frequency and presence penalties, over the prompt ids the
//! worker tokenized plus the answer so far, with mistral.rs 0.8.1's formulas and before min-p
//! (mistral.rs applies its own penalties before any logits processor). mistral.rs's own are
//! off: with the prefix cache on, the context it hands the sampler at the first step holds only
//! the prompt tokens that were not cached, so its penalty would skip the rest of the prompt.
//!
//! It runs on mistral.rs's engine thread: it must stay cheap and never block.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mistralrs::{CustomLogitsProcessor, Result as CandleResult, Tensor};
use tokio::sync::mpsc::UnboundedSender;

/// What the observer reports to the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// The prompt exactly as the model sees it (sent once, at the first step).
    Prompt(Vec<u32>),
    /// The model sampled this token id (in order).
    Token(u32),
    /// The observer forced the stop token because the answer reached its length.
    LengthReached,
}

/// transformers' `repetition_penalty` (1 = off) and the OpenAI-style frequency and presence
/// penalties (0 = off), as mistral.rs 0.8.1 applies them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Penalties {
    pub repetition: f32,
    pub frequency: f32,
    pub presence: f32,
}

impl Penalties {
    pub const OFF: Penalties = Penalties {
        repetition: 1.0,
        frequency: 0.0,
        presence: 0.0,
    };

    pub fn is_off(&self) -> bool {
        *self == Self::OFF
    }
}

pub struct TokenObserver {
    /// The prompt as the worker tokenized it (the same template and tokenizer mistral.rs runs).
    prompt: Vec<u32>,
    /// How often each id occurs in `prompt`, sorted by id.
    prompt_counts: Vec<(u32, u32)>,
    prompt_sent: AtomicBool,
    forwarded: AtomicUsize,
    max_new_tokens: usize,
    stop_id: u32,
    cancelled: Arc<AtomicBool>,
    min_p: Option<(f64, f64)>,
    penalties: Penalties,
    tx: UnboundedSender<Observed>,
}

/// The options of one answer that the observer enforces.
pub struct ObserverConfig {
    pub prompt: Vec<u32>,
    pub max_new_tokens: usize,
    pub stop_id: u32,
    pub min_p: Option<(f64, f64)>,
    pub penalties: Penalties,
}

impl TokenObserver {
    pub fn new(config: ObserverConfig, cancelled: Arc<AtomicBool>, tx: UnboundedSender<Observed>) -> Self {
        let mut sorted = config.prompt.clone();
        sorted.sort_unstable();
        let mut prompt_counts: Vec<(u32, u32)> = Vec::new();
        for id in sorted {
            match prompt_counts.last_mut() {
                Some((last, n)) if *last == id => *n += 1,
                _ => prompt_counts.push((id, 1)),
            }
        }
        Self {
            prompt: config.prompt,
            prompt_counts,
            prompt_sent: AtomicBool::new(false),
            forwarded: AtomicUsize::new(0),
            max_new_tokens: config.max_new_tokens,
            stop_id: config.stop_id,
            cancelled,
            min_p: config.min_p,
            penalties: config.penalties,
            tx,
        }
    }

    fn forward_new_tokens(&self, generated: &[u32]) {
        let done = self.forwarded.swap(generated.len(), Ordering::Relaxed);
        for &id in generated.iter().skip(done) {
            // A closed receiver means the worker gave up on this answer; nothing to do.
            let _ = self.tx.send(Observed::Token(id));
        }
    }
}

impl CustomLogitsProcessor for TokenObserver {
    fn apply(&self, logits: &Tensor, context: &[u32]) -> CandleResult<Tensor> {
        if !self.prompt_sent.swap(true, Ordering::Relaxed) {
            // Without a prefix-cache hit the first context is the prompt the model read; with
            // one it is only the uncached tail, and the prompt is the one the worker tokenized.
            let seen = if context.len() == self.prompt.len() {
                context.to_vec()
            } else {
                self.prompt.clone()
            };
            let _ = self.tx.send(Observed::Prompt(seen));
        }
        // From the second step on the context is the whole prompt plus the answer so far.
        let generated = context.get(self.prompt.len()..).unwrap_or_default();
        self.forward_new_tokens(generated);

        if self.cancelled.load(Ordering::Relaxed) {
            return only_token(logits, self.stop_id);
        }
        if generated.len() >= self.max_new_tokens {
            let _ = self.tx.send(Observed::LengthReached);
            return only_token(logits, self.stop_id);
        }
        let penalized = if self.penalties.is_off() {
            logits.clone()
        } else {
            apply_penalties(logits, &self.prompt_counts, generated, self.penalties)?
        };
        match self.min_p {
            Some((min_p, temperature)) => apply_min_p(&penalized, min_p, temperature),
            None => Ok(penalized),
        }
    }
}

/// mistral.rs 0.8.1's `apply_freq_pres_rep_penalty` over prompt + answer: for every id that
/// occurs `c > 0` times, `l -= c * frequency + presence`, then `l /= repetition` if `l > 0`
/// else `l *= repetition` (transformers' `RepetitionPenaltyLogitsProcessor`). Ids outside the
/// vocabulary are skipped, as there.
fn apply_penalties(
    logits: &Tensor,
    prompt_counts: &[(u32, u32)],
    generated: &[u32],
    p: Penalties,
) -> CandleResult<Tensor> {
    let mut values: Vec<f32> = logits.flatten_all()?.to_vec1()?;
    let mut counts: Vec<(u32, u32)> = prompt_counts.to_vec();
    for &id in generated {
        match counts.binary_search_by_key(&id, |&(k, _)| k) {
            Ok(i) => counts[i].1 += 1,
            Err(i) => counts.insert(i, (id, 1)),
        }
    }
    for (id, count) in counts {
        let Some(v) = values.get_mut(id as usize) else {
            continue;
        };
        *v = *v - count as f32 * p.frequency - p.presence;
        if p.repetition != 1.0 {
            if *v > 0.0 {
                *v /= p.repetition;
            } else {
                *v *= p.repetition;
            }
        }
    }
    Tensor::from_vec(values, logits.shape(), logits.device())
}

/// Logits that leave the sampler no choice but `id`.
fn only_token(logits: &Tensor, id: u32) -> CandleResult<Tensor> {
    let n = logits.elem_count();
    let mut forced = vec![f32::NEG_INFINITY; n];
    if let Some(slot) = forced.get_mut(id as usize) {
        *slot = 0.0;
    }
    Tensor::from_vec(forced, logits.shape(), logits.device())
}

/// transformers' `MinPLogitsWarper` on raw logits: after dividing by the temperature, a token is
/// kept when `p_i >= min_p * p_max`, i.e. when `l_i >= l_max + T * ln(min_p)`.
fn apply_min_p(logits: &Tensor, min_p: f64, temperature: f64) -> CandleResult<Tensor> {
    let mut values: Vec<f32> = logits.flatten_all()?.to_vec1()?;
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let threshold = max + (temperature * min_p.ln()) as f32;
    for v in values.iter_mut() {
        if *v < threshold {
            *v = f32::NEG_INFINITY;
        }
    }
    Tensor::from_vec(values, logits.shape(), logits.device())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mistralrs::Device;
    use tokio::sync::mpsc::unbounded_channel;

    fn logits(v: &[f32]) -> Tensor {
        Tensor::from_vec(v.to_vec(), v.len(), &Device::Cpu).unwrap()
    }

    fn observer(
        max: usize,
    ) -> (
        TokenObserver,
        Arc<AtomicBool>,
        tokio::sync::mpsc::UnboundedReceiver<Observed>,
    ) {
        observer_with(max, vec![9, 9, 9], Penalties::OFF)
    }

    fn observer_with(
        max: usize,
        prompt: Vec<u32>,
        penalties: Penalties,
    ) -> (
        TokenObserver,
        Arc<AtomicBool>,
        tokio::sync::mpsc::UnboundedReceiver<Observed>,
    ) {
        let (tx, rx) = unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let config = ObserverConfig {
            prompt,
            max_new_tokens: max,
            stop_id: 2,
            min_p: None,
            penalties,
        };
        (TokenObserver::new(config, cancel.clone(), tx), cancel, rx)
    }

    #[test]
    fn forwards_each_generated_id_once_in_order() {
        let (obs, _, mut rx) = observer(10);
        let l = logits(&[0.0, 1.0, 2.0, 3.0]);
        obs.apply(&l, &[9, 9, 9]).unwrap();
        obs.apply(&l, &[9, 9, 9, 5]).unwrap();
        obs.apply(&l, &[9, 9, 9, 5, 7]).unwrap();
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            got,
            vec![Observed::Prompt(vec![9, 9, 9]), Observed::Token(5), Observed::Token(7)]
        );
    }

    #[test]
    fn forces_the_stop_token_at_the_length_limit_and_on_cancel() {
        let (obs, cancel, mut rx) = observer_with(1, vec![9], Penalties::OFF);
        let l = logits(&[5.0, 1.0, -3.0, 3.0]);
        let free = obs.apply(&l, &[9]).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(free, vec![5.0, 1.0, -3.0, 3.0]);
        let forced = obs.apply(&l, &[9, 0]).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(forced[2], 0.0);
        assert!(forced
            .iter()
            .enumerate()
            .all(|(i, v)| i == 2 || *v == f32::NEG_INFINITY));
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            got,
            vec![Observed::Prompt(vec![9]), Observed::Token(0), Observed::LengthReached]
        );

        let (obs, cancel2, _rx) = observer_with(100, vec![9], Penalties::OFF);
        cancel2.store(true, Ordering::Relaxed);
        let forced = obs.apply(&l, &[9]).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(forced[2], 0.0);
        drop(cancel);
    }

    #[test]
    fn a_prefix_cache_hit_still_reports_and_penalizes_the_whole_prompt() {
        let rp = Penalties {
            repetition: 2.0,
            ..Penalties::OFF
        };
        let (obs, _, mut rx) = observer_with(10, vec![7, 0, 1], rp);
        let l = logits(&[4.0, -4.0, 4.0, 4.0]);
        // First step after a cache hit: mistral.rs hands only the uncached tail [1].
        let first = obs.apply(&l, &[1]).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(
            first,
            vec![2.0, -8.0, 4.0, 4.0],
            "ids 0 and 1 of the cached prompt count"
        );
        // Then the whole prompt plus the answer: the generated 3 counts too (7 is no logit).
        let second = obs.apply(&l, &[7, 0, 1, 3]).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(second, vec![2.0, -8.0, 4.0, 2.0]);
        let got: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(got, vec![Observed::Prompt(vec![7, 0, 1]), Observed::Token(3)]);
    }

    #[test]
    fn penalties_follow_mistralrs_formulas_and_count_repeats() {
        let p = Penalties {
            repetition: 1.25,
            frequency: 0.5,
            presence: 1.0,
        };
        let l = logits(&[3.0, 3.0, -1.0, 3.0]);
        let out = apply_penalties(&l, &[(0, 2), (2, 1)], &[0, 3], p)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        // id 0: seen 3 times: (3 - 1.5 - 1) / 1.25; id 2: (-1 - 0.5 - 1) * 1.25; id 3: (3 - 1.5) / 1.25.
        assert_eq!(out, vec![0.4, 3.0, -3.125, 1.2]);
    }

    #[test]
    fn min_p_keeps_tokens_within_the_ratio_after_temperature() {
        // With T = 1: p_i / p_max = exp(l_i - l_max). min_p 0.1 keeps l_i >= l_max - 2.302...
        let l = logits(&[0.0, -2.0, -2.5, -10.0]);
        let out = apply_min_p(&l, 0.1, 1.0).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(out[0], 0.0);
        assert_eq!(out[1], -2.0);
        assert_eq!(out[2], f32::NEG_INFINITY);
        assert_eq!(out[3], f32::NEG_INFINITY);
        // A higher temperature flattens the distribution, so more survive.
        let out = apply_min_p(&l, 0.1, 2.0).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(out[2], -2.5);
    }
}
