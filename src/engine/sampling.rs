//! Sampling settings: what the user may set, how each value is validated, and how the settings
//! reach mistral.rs 0.8.1 — including the ones it would silently ignore.
//!
//! The defaults are the user's Python recipe (greedy, repetition penalty 1.05, 512 new tokens).
//! This module owns validation and the translation to `mistralrs::SamplingParams`; it must not
//! know about prompts or streaming.

mod fields;

use serde::{Deserialize, Serialize};

pub use fields::{Bound, FieldSpec, SamplingField, FIELDS};

/// The sampling knobs of one request. `temperature == 0` means greedy decoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingSettings {
    pub temperature: f64,
    /// `None` (or 0 in a config file) turns top-k off.
    pub top_k: Option<u32>,
    /// 1.0 turns top-p off.
    pub top_p: f64,
    /// 0.0 turns min-p off.
    pub min_p: f64,
    /// 1.0 turns the penalty off (transformers' `repetition_penalty`).
    pub repetition_penalty: f64,
    pub frequency_penalty: f64,
    pub presence_penalty: f64,
    pub max_new_tokens: u32,
}

impl Default for SamplingSettings {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: None,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.05,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            max_new_tokens: 512,
        }
    }
}

/// Some sampling fields, each optional: what one layer of settings says (see
/// `settings::SettingsPatch`). `top_k = Some(0)` turns top-k off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SamplingPatch {
    pub temperature: Option<f64>,
    pub top_k: Option<u32>,
    pub top_p: Option<f64>,
    pub min_p: Option<f64>,
    pub repetition_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub max_new_tokens: Option<u32>,
}

impl SamplingPatch {
    /// Every field of `s`: laid over anything, it gives `s`.
    pub fn all_of(s: &SamplingSettings) -> Self {
        Self {
            temperature: Some(s.temperature),
            top_k: Some(s.top_k.unwrap_or(0)),
            top_p: Some(s.top_p),
            min_p: Some(s.min_p),
            repetition_penalty: Some(s.repetition_penalty),
            frequency_penalty: Some(s.frequency_penalty),
            presence_penalty: Some(s.presence_penalty),
            max_new_tokens: Some(s.max_new_tokens),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Lays these fields over `s`.
    pub fn apply(&self, s: &mut SamplingSettings) {
        let set = |field: &mut f64, value: Option<f64>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut s.temperature, self.temperature);
        set(&mut s.top_p, self.top_p);
        set(&mut s.min_p, self.min_p);
        set(&mut s.repetition_penalty, self.repetition_penalty);
        set(&mut s.frequency_penalty, self.frequency_penalty);
        set(&mut s.presence_penalty, self.presence_penalty);
        if let Some(k) = self.top_k {
            s.top_k = (k > 0).then_some(k);
        }
        if let Some(n) = self.max_new_tokens {
            s.max_new_tokens = n;
        }
    }
}

/// A setting outside its valid range. The message names the field and the allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid sampling setting `{field}` = {value}: {rule}")]
pub struct InvalidSetting {
    pub field: &'static str,
    pub value: String,
    pub rule: &'static str,
}

impl SamplingSettings {
    /// Checks every field against the table; the first bad one is reported by name.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        SamplingField::all().try_for_each(|f| f.check(self.get(f)))
    }

    /// A field's value as a number (top-k off is 0).
    pub fn get(&self, field: SamplingField) -> f64 {
        match field {
            SamplingField::Temperature => self.temperature,
            SamplingField::TopK => f64::from(self.top_k.unwrap_or(0)),
            SamplingField::TopP => self.top_p,
            SamplingField::MinP => self.min_p,
            SamplingField::RepetitionPenalty => self.repetition_penalty,
            SamplingField::FrequencyPenalty => self.frequency_penalty,
            SamplingField::PresencePenalty => self.presence_penalty,
            SamplingField::MaxNewTokens => f64::from(self.max_new_tokens),
        }
    }

    /// Sets a field if the table allows `value`; otherwise says why not and changes nothing.
    pub fn set(&mut self, field: SamplingField, value: f64) -> Result<(), InvalidSetting> {
        field.check(value)?;
        match field {
            SamplingField::Temperature => self.temperature = value,
            SamplingField::TopK => self.top_k = (value >= 1.0).then_some(value as u32),
            SamplingField::TopP => self.top_p = value,
            SamplingField::MinP => self.min_p = value,
            SamplingField::RepetitionPenalty => self.repetition_penalty = value,
            SamplingField::FrequencyPenalty => self.frequency_penalty = value,
            SamplingField::PresencePenalty => self.presence_penalty = value,
            SamplingField::MaxNewTokens => self.max_new_tokens = value as u32,
        }
        Ok(())
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    /// Settings that will have no effect as set, and what sampling cannot promise, in words
    /// for the user. Shown where the user sets them (stderr in headless mode, a notice in the
    /// chat screen, the settings pane) rather than dropped. Read from the field table.
    pub fn caveats(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let idle: Vec<String> = SamplingField::all()
            .filter(|f| f.idle_reason(self).is_some())
            .map(|f| f.spec().label.to_lowercase())
            .collect();
        if !idle.is_empty() {
            notes.push(format!(
                "{} only shape sampling and have no effect while temperature is 0 (greedy)",
                idle.join(", ")
            ));
        }
        if !self.is_greedy() {
            notes.extend(SamplingField::Temperature.spec().engine_note.map(String::from));
        }
        notes
    }

    /// min-p as gemma-tui applies it itself (see [`MinPFilter`](super::observer)): mistral.rs
    /// 0.8.1 ignores `min_p` unless `0 < top_p < 1`, so it is never handed to mistral.rs.
    pub fn min_p_filter(&self) -> Option<(f64, f64)> {
        (!self.is_greedy() && self.min_p > 0.0).then_some((self.min_p, self.temperature))
    }

    /// The mistral.rs view of these settings. `max_len` is left to the caller (the worker
    /// enforces the answer length itself, see `engine::observer`).
    pub fn to_mistralrs(&self, stop_ids: Vec<u32>) -> mistralrs::SamplingParams {
        let mut params = mistralrs::SamplingParams::neutral();
        // mistral.rs 0.8.1 reads a missing temperature as 1.0 (it samples!); only a temperature
        // below 1e-7 selects its argmax path.
        params.temperature = Some(0.0);
        if !self.is_greedy() {
            params.temperature = Some(self.temperature);
            params.top_k = self.top_k.filter(|&k| k > 0).map(|k| k as usize);
            params.top_p = (self.top_p < 1.0).then_some(self.top_p);
        }
        params.repetition_penalty = (self.repetition_penalty != 1.0).then_some(self.repetition_penalty as f32);
        params.frequency_penalty = (self.frequency_penalty != 0.0).then_some(self.frequency_penalty as f32);
        params.presence_penalty = (self.presence_penalty != 0.0).then_some(self.presence_penalty as f32);
        params.stop_toks = Some(mistralrs::StopTokens::Ids(stop_ids));
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seed_recipe_and_valid() {
        let s = SamplingSettings::default();
        assert!(s.is_greedy());
        assert_eq!(s.repetition_penalty, 1.05);
        assert_eq!(s.max_new_tokens, 512);
        s.validate().unwrap();
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let cases: Vec<(&str, SamplingSettings)> = vec![
            (
                "temperature",
                SamplingSettings {
                    temperature: f64::NAN,
                    ..Default::default()
                },
            ),
            (
                "temperature",
                SamplingSettings {
                    temperature: -0.1,
                    ..Default::default()
                },
            ),
            (
                "top_p",
                SamplingSettings {
                    top_p: 0.0,
                    ..Default::default()
                },
            ),
            (
                "top_p",
                SamplingSettings {
                    top_p: f64::INFINITY,
                    ..Default::default()
                },
            ),
            (
                "min_p",
                SamplingSettings {
                    min_p: 1.0,
                    ..Default::default()
                },
            ),
            (
                "repetition_penalty",
                SamplingSettings {
                    repetition_penalty: 0.0,
                    ..Default::default()
                },
            ),
            (
                "repetition_penalty",
                SamplingSettings {
                    repetition_penalty: f64::NAN,
                    ..Default::default()
                },
            ),
            (
                "frequency_penalty",
                SamplingSettings {
                    frequency_penalty: 2.5,
                    ..Default::default()
                },
            ),
            (
                "presence_penalty",
                SamplingSettings {
                    presence_penalty: -3.0,
                    ..Default::default()
                },
            ),
            (
                "max_new_tokens",
                SamplingSettings {
                    max_new_tokens: 0,
                    ..Default::default()
                },
            ),
        ];
        for (field, settings) in cases {
            let err = settings.validate().unwrap_err();
            assert_eq!(err.field, field);
            assert!(err.to_string().contains(field));
        }
    }

    #[test]
    fn greedy_sends_no_sampling_knobs_but_keeps_penalties() {
        let s = SamplingSettings {
            top_k: Some(5),
            top_p: 0.5,
            ..Default::default()
        };
        let p = s.to_mistralrs(vec![1, 2]);
        assert_eq!(p.temperature, Some(0.0), "an explicit 0: mistral.rs reads None as 1.0");
        assert_eq!(p.top_k, None);
        assert_eq!(p.top_p, None);
        assert_eq!(p.min_p, None);
        assert_eq!(p.repetition_penalty, Some(1.05));
        assert!(s.caveats()[0].contains("top-k, top-p"));
    }

    #[test]
    fn min_p_is_ours_never_mistralrs() {
        let s = SamplingSettings {
            temperature: 0.7,
            min_p: 0.1,
            ..Default::default()
        };
        assert_eq!(s.to_mistralrs(vec![]).min_p, None);
        assert_eq!(s.min_p_filter(), Some((0.1, 0.7)));
        assert_eq!(SamplingSettings::default().min_p_filter(), None);
    }
}
