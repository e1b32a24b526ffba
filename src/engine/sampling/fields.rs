//! One table of the sampling fields: name, range, editing step, "off" value, one-line help, and
//! when the field has no effect. Validation, the settings pane's steps and help, and the caveats
//! shown in headless mode and in the chat screen are all read from it.

use super::{InvalidSetting, SamplingSettings};

/// One sampling knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SamplingField {
    Temperature,
    TopK,
    TopP,
    MinP,
    RepetitionPenalty,
    FrequencyPenalty,
    PresencePenalty,
    MaxNewTokens,
}

/// One end of a field's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Inclusive(f64),
    Exclusive(f64),
}

impl Bound {
    fn admits_above(self, v: f64) -> bool {
        match self {
            Self::Inclusive(b) => v >= b,
            Self::Exclusive(b) => v > b,
        }
    }
    fn admits_below(self, v: f64) -> bool {
        match self {
            Self::Inclusive(b) => v <= b,
            Self::Exclusive(b) => v < b,
        }
    }
    pub fn value(self) -> f64 {
        match self {
            Self::Inclusive(b) | Self::Exclusive(b) => b,
        }
    }
}

/// What the table says of a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSpec {
    pub field: SamplingField,
    /// The config key (and, with `-`, the flag).
    pub name: &'static str,
    /// The settings pane's label.
    pub label: &'static str,
    pub min: Bound,
    pub max: Bound,
    /// One press of an arrow key in the settings pane.
    pub step: f64,
    /// The value that turns the field off, if it has one.
    pub off: Option<f64>,
    pub integer: bool,
    pub help: &'static str,
    /// The allowed range, in words, for refusals.
    pub rule: &'static str,
    /// How mistral.rs 0.8.1 treats it, where that differs from transformers.
    pub engine_note: Option<&'static str>,
}

use Bound::{Exclusive as Ex, Inclusive as In};

#[rustfmt::skip]
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec { field: SamplingField::Temperature, name: "temperature", label: "Temperature", min: In(0.0), max: In(5.0), step: 0.05, off: Some(0.0), integer: false,
        help: "randomness of sampling; 0 = greedy (always the most likely token)", rule: "must be between 0 (greedy) and 5",
        engine_note: Some("mistral.rs 0.8.1 has no per-request seed: sampled answers differ from run to run") },
    FieldSpec { field: SamplingField::TopK, name: "top_k", label: "Top-k", min: In(0.0), max: In(262_144.0), step: 5.0, off: Some(0.0), integer: true,
        help: "sample only among the K most likely tokens; 0 = off", rule: "must be between 0 (off) and 262144",
        engine_note: None },
    FieldSpec { field: SamplingField::TopP, name: "top_p", label: "Top-p", min: Ex(0.0), max: In(1.0), step: 0.05, off: Some(1.0), integer: false,
        help: "sample among the most likely tokens whose probabilities add up to P; 1 = off", rule: "must be greater than 0 and at most 1 (1 = off)",
        engine_note: None },
    FieldSpec { field: SamplingField::MinP, name: "min_p", label: "Min-p", min: In(0.0), max: Ex(1.0), step: 0.01, off: Some(0.0), integer: false,
        help: "drop tokens below M times the top token's probability; 0 = off", rule: "must be at least 0 (off) and below 1",
        engine_note: Some("applied by gemma-tui: mistral.rs 0.8.1 ignores min-p unless 0 < top-p < 1") },
    FieldSpec { field: SamplingField::RepetitionPenalty, name: "repetition_penalty", label: "Repetition penalty", min: Ex(0.0), max: In(10.0), step: 0.01, off: Some(1.0), integer: false,
        help: "transformers-style: divides the scores of tokens already seen; 1 = off", rule: "must be greater than 0 and at most 10 (1 = off)",
        engine_note: None },
    FieldSpec { field: SamplingField::FrequencyPenalty, name: "frequency_penalty", label: "Frequency penalty", min: In(-2.0), max: In(2.0), step: 0.1, off: Some(0.0), integer: false,
        help: "OpenAI-style: lowers a token's score by F per time it appeared; 0 = off", rule: "must be between -2 and 2 (0 = off)",
        engine_note: None },
    FieldSpec { field: SamplingField::PresencePenalty, name: "presence_penalty", label: "Presence penalty", min: In(-2.0), max: In(2.0), step: 0.1, off: Some(0.0), integer: false,
        help: "OpenAI-style: lowers the score of every token that appeared by Q; 0 = off", rule: "must be between -2 and 2 (0 = off)",
        engine_note: None },
    FieldSpec { field: SamplingField::MaxNewTokens, name: "max_new_tokens", label: "Max new tokens", min: In(1.0), max: In(8192.0), step: 64.0, off: None, integer: true,
        help: "longest answer, in tokens (the context budget may lower it)", rule: "must be between 1 and 8192",
        engine_note: None },
];

impl SamplingField {
    pub fn spec(self) -> &'static FieldSpec {
        // Every field has a row; `every_field_has_one_row` guards it.
        FIELDS.iter().find(|f| f.field == self).unwrap_or(&FIELDS[0])
    }

    pub fn all() -> impl Iterator<Item = Self> {
        FIELDS.iter().map(|f| f.field)
    }

    /// Refuses a value outside the field's range (or not whole, for whole-number fields).
    pub fn check(self, value: f64) -> Result<(), InvalidSetting> {
        let spec = self.spec();
        let ok = value.is_finite()
            && spec.min.admits_above(value)
            && spec.max.admits_below(value)
            && (!spec.integer || value.fract() == 0.0);
        if ok {
            Ok(())
        } else {
            Err(InvalidSetting {
                field: spec.name,
                value: value.to_string(),
                rule: spec.rule,
            })
        }
    }

    /// Why this field does nothing in `s` as set, if it does nothing.
    pub fn idle_reason(self, s: &SamplingSettings) -> Option<&'static str> {
        let spec = self.spec();
        let value = s.get(self);
        if spec.off == Some(value) {
            return None; // off is not "no effect": it is what the user asked for
        }
        match self {
            Self::TopK | Self::TopP | Self::MinP if s.is_greedy() => {
                Some("only shapes sampling: no effect while temperature is 0 (greedy)")
            }
            _ => None,
        }
    }

    /// `value` moved by `steps` presses, kept inside the range (an open end stops one step in).
    pub fn stepped(self, value: f64, steps: i32) -> f64 {
        let spec = self.spec();
        let lo = match spec.min {
            In(b) => b,
            Ex(b) => b + spec.step,
        };
        let hi = match spec.max {
            In(b) => b,
            Ex(b) => b - spec.step,
        };
        let next = value + spec.step * f64::from(steps);
        // Onto the step's grid, and rid of binary noise, so 0.1 + 0.2 shows as 0.3.
        let snapped = ((next / spec.step).round() * spec.step * 1e6).round() / 1e6;
        snapped.clamp(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_one_row() {
        for f in [
            SamplingField::Temperature,
            SamplingField::TopK,
            SamplingField::TopP,
            SamplingField::MinP,
            SamplingField::RepetitionPenalty,
            SamplingField::FrequencyPenalty,
            SamplingField::PresencePenalty,
            SamplingField::MaxNewTokens,
        ] {
            assert_eq!(FIELDS.iter().filter(|s| s.field == f).count(), 1, "{f:?}");
        }
    }

    #[test]
    fn the_defaults_pass_their_own_table_and_each_off_value_is_in_range() {
        let s = SamplingSettings::default();
        for f in SamplingField::all() {
            f.check(s.get(f)).unwrap();
            if let Some(off) = f.spec().off {
                f.check(off).unwrap();
            }
        }
    }

    #[test]
    fn steps_stay_on_the_grid_and_inside_the_range() {
        let t = SamplingField::Temperature;
        assert_eq!(t.stepped(0.0, -1), 0.0);
        assert_eq!(t.stepped(0.7, 1), 0.75);
        assert_eq!(t.stepped(4.99, 5), 5.0);
        let p = SamplingField::TopP;
        assert_eq!(p.stepped(0.05, -3), 0.05, "an open end stops a step inside");
        assert_eq!(SamplingField::RepetitionPenalty.stepped(1.05, 1), 1.06);
        assert_eq!(SamplingField::MaxNewTokens.stepped(512.0, 1), 576.0);
        assert!(SamplingField::TopK.check(2.5).is_err(), "whole numbers only");
    }

    #[test]
    fn sampling_shapers_are_idle_while_greedy_unless_off() {
        let mut s = SamplingSettings {
            top_k: Some(40),
            ..Default::default()
        };
        assert!(SamplingField::TopK.idle_reason(&s).is_some());
        assert_eq!(SamplingField::TopP.idle_reason(&s), None, "off");
        assert_eq!(SamplingField::RepetitionPenalty.idle_reason(&s), None);
        s.temperature = 0.7;
        assert_eq!(SamplingField::TopK.idle_reason(&s), None);
    }
}
