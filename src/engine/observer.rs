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
//! It runs on mistral.rs's engine thread: it must stay cheap and never block.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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

pub struct TokenObserver {
    prompt_len: Mutex<Option<usize>>,
    forwarded: AtomicUsize,
    max_new_tokens: usize,
    stop_id: u32,
    cancelled: Arc<AtomicBool>,
    min_p: Option<(f64, f64)>,
    tx: UnboundedSender<Observed>,
}

impl TokenObserver {
    pub fn new(
        max_new_tokens: usize,
        stop_id: u32,
        cancelled: Arc<AtomicBool>,
        min_p: Option<(f64, f64)>,
        tx: UnboundedSender<Observed>,
    ) -> Self {
        Self {
            prompt_len: Mutex::new(None),
            forwarded: AtomicUsize::new(0),
            max_new_tokens,
            stop_id,
            cancelled,
            min_p,
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
        let prompt_len = {
            let mut guard = self.prompt_len.lock().unwrap_or_else(|p| p.into_inner());
            *guard.get_or_insert_with(|| {
                let _ = self.tx.send(Observed::Prompt(context.to_vec()));
                context.len()
            })
        };
        let generated = context.get(prompt_len..).unwrap_or_default();
        self.forward_new_tokens(generated);

        if self.cancelled.load(Ordering::Relaxed) {
            return only_token(logits, self.stop_id);
        }
        if generated.len() >= self.max_new_tokens {
            let _ = self.tx.send(Observed::LengthReached);
            return only_token(logits, self.stop_id);
        }
        match self.min_p {
            Some((min_p, temperature)) => apply_min_p(logits, min_p, temperature),
            None => Ok(logits.clone()),
        }
    }
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
        let (tx, rx) = unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        (TokenObserver::new(max, 2, cancel.clone(), None, tx), cancel, rx)
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
        let (obs, cancel, mut rx) = observer(1);
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

        let (obs, cancel2, _rx) = observer(100);
        cancel2.store(true, Ordering::Relaxed);
        let forced = obs.apply(&l, &[9]).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(forced[2], 0.0);
        drop(cancel);
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
