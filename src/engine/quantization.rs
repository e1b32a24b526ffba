//! In-situ quantization (mistral.rs ISQ): the one enum that the flags, the config file, the
//! settings pane and the load request share, and one table of what each type is: its size per
//! weight (for the memory planner) and how fast the CPU runs it in candle 0.10.2.
//!
//! Speed on the CPU, read in candle-core 0.10.2 and mistralrs-quant 0.8.1: Q4_0, Q8_0 and
//! Q2K..Q8K have AVX2 / NEON dot products (compiled in by `.cargo/config.toml` on x86_64);
//! Q4_1, Q5_0, Q5_1 and Q8_1 have only scalar code; HQQ, AFQ, FP8, F8Q8 and MXFP4 widen the
//! whole weight on every forward pass there, so they are for GPUs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Quantize the weights while loading, or not (`None`: the checkpoint's own dtype).
#[allow(non_camel_case_types)] // Q4_0, Q8_0: the names every GGML user knows
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    #[default]
    None,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    /// `q8` (the older name) means this one, as mistral.rs's 8-bit auto choice does off Metal.
    #[serde(alias = "q8")]
    Q8_0,
    Q8_1,
    Q2K,
    Q3K,
    /// `q4` (the older name) means this one, as mistral.rs's 4-bit auto choice does off Metal.
    #[serde(alias = "q4")]
    Q4K,
    Q5K,
    Q6K,
    Q8K,
    Hqq4,
    Hqq8,
    Fp8,
    Afq2,
    Afq3,
    Afq4,
    Afq6,
    Afq8,
    F8q8,
    Mxfp4,
}

/// How the CPU runs a quantized matmul of this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuSpeed {
    /// SIMD dot products on the quantized blocks: memory-bound, the fast CPU modes.
    Simd,
    /// Scalar code only: works, several times slower than `Simd`.
    Scalar,
    /// The weight is widened to float on every forward pass: slower than no quantization.
    Dequantizes,
    /// Not quantized: f32 on the CPU (mistral.rs 0.8.1 has no bf16 matmul there).
    Dense,
}

/// One row of facts per type. `bits` is the storage per weight including block scales.
struct Facts {
    q: Quantization,
    label: &'static str,
    /// As written in the config file and on the command line.
    name: &'static str,
    bits: f64,
    cpu: CpuSpeed,
    help: &'static str,
}

#[rustfmt::skip]
const TABLE: &[Facts] = &[
    Facts { q: Quantization::None, label: "none", name: "none", bits: 16.0, cpu: CpuSpeed::Dense, help: "the checkpoint's weights: exact, largest" },
    Facts { q: Quantization::Q8_0, label: "Q8_0", name: "q8_0", bits: 8.5, cpu: CpuSpeed::Simd, help: "8-bit: near-lossless, half of bf16" },
    Facts { q: Quantization::Q6K, label: "Q6K", name: "q6k", bits: 6.5625, cpu: CpuSpeed::Simd, help: "6-bit k-quant: near-lossless, smaller than Q8_0" },
    Facts { q: Quantization::Q5K, label: "Q5K", name: "q5k", bits: 5.5, cpu: CpuSpeed::Simd, help: "5-bit k-quant" },
    Facts { q: Quantization::Q4K, label: "Q4K", name: "q4k", bits: 4.5, cpu: CpuSpeed::Simd, help: "4-bit k-quant: the usual size/quality balance" },
    Facts { q: Quantization::Q3K, label: "Q3K", name: "q3k", bits: 3.4375, cpu: CpuSpeed::Simd, help: "3-bit k-quant: visibly lossy" },
    Facts { q: Quantization::Q2K, label: "Q2K", name: "q2k", bits: 2.5625, cpu: CpuSpeed::Simd, help: "2-bit k-quant: for when nothing else fits" },
    Facts { q: Quantization::Q8K, label: "Q8K", name: "q8k", bits: 9.125, cpu: CpuSpeed::Simd, help: "8-bit k-quant block" },
    Facts { q: Quantization::Q4_0, label: "Q4_0", name: "q4_0", bits: 4.5, cpu: CpuSpeed::Simd, help: "4-bit legacy block" },
    Facts { q: Quantization::Q4_1, label: "Q4_1", name: "q4_1", bits: 5.0, cpu: CpuSpeed::Scalar, help: "4-bit legacy block with offsets" },
    Facts { q: Quantization::Q5_0, label: "Q5_0", name: "q5_0", bits: 5.5, cpu: CpuSpeed::Scalar, help: "5-bit legacy block" },
    Facts { q: Quantization::Q5_1, label: "Q5_1", name: "q5_1", bits: 6.0, cpu: CpuSpeed::Scalar, help: "5-bit legacy block with offsets" },
    Facts { q: Quantization::Q8_1, label: "Q8_1", name: "q8_1", bits: 9.0, cpu: CpuSpeed::Scalar, help: "8-bit legacy block with sums" },
    Facts { q: Quantization::Hqq8, label: "HQQ8", name: "hqq8", bits: 8.5, cpu: CpuSpeed::Dequantizes, help: "half-quadratic 8-bit (GPU)" },
    Facts { q: Quantization::Hqq4, label: "HQQ4", name: "hqq4", bits: 4.5, cpu: CpuSpeed::Dequantizes, help: "half-quadratic 4-bit (GPU)" },
    Facts { q: Quantization::Fp8, label: "FP8", name: "fp8", bits: 8.0, cpu: CpuSpeed::Dequantizes, help: "8-bit float E4M3 (GPU)" },
    Facts { q: Quantization::F8q8, label: "F8Q8", name: "f8q8", bits: 8.5, cpu: CpuSpeed::Dequantizes, help: "FP8 weights, 8-bit activations (GPU)" },
    Facts { q: Quantization::Mxfp4, label: "MXFP4", name: "mxfp4", bits: 4.25, cpu: CpuSpeed::Dequantizes, help: "microscaled 4-bit float (GPU)" },
    Facts { q: Quantization::Afq8, label: "AFQ8", name: "afq8", bits: 8.5, cpu: CpuSpeed::Dequantizes, help: "affine 8-bit (Metal)" },
    Facts { q: Quantization::Afq6, label: "AFQ6", name: "afq6", bits: 6.5, cpu: CpuSpeed::Dequantizes, help: "affine 6-bit (Metal)" },
    Facts { q: Quantization::Afq4, label: "AFQ4", name: "afq4", bits: 4.5, cpu: CpuSpeed::Dequantizes, help: "affine 4-bit (Metal)" },
    Facts { q: Quantization::Afq3, label: "AFQ3", name: "afq3", bits: 3.5, cpu: CpuSpeed::Dequantizes, help: "affine 3-bit (Metal)" },
    Facts { q: Quantization::Afq2, label: "AFQ2", name: "afq2", bits: 2.5, cpu: CpuSpeed::Dequantizes, help: "affine 2-bit (Metal)" },
];

impl Quantization {
    /// Every type, in the order the settings pane lists them (best CPU choices first).
    pub fn all() -> impl Iterator<Item = Self> {
        TABLE.iter().map(|f| f.q)
    }

    fn facts(self) -> &'static Facts {
        // Every variant has a row; `every_type_has_one_row` guards it.
        TABLE.iter().find(|f| f.q == self).unwrap_or(&TABLE[0])
    }

    pub fn is_none(self) -> bool {
        self == Self::None
    }

    /// Bits per weight as stored, block scales included; `None` when not quantized (the
    /// checkpoint's dtype decides).
    pub fn bits_per_weight(self) -> Option<f64> {
        (!self.is_none()).then(|| self.facts().bits)
    }

    pub fn cpu_speed(self) -> CpuSpeed {
        self.facts().cpu
    }

    /// One line for the settings pane and `--help`.
    pub fn help(self) -> &'static str {
        self.facts().help
    }

    /// The name as written in the config file and on the command line.
    pub fn config_name(self) -> &'static str {
        self.facts().name
    }

    /// mistral.rs's name for it; `None` when not quantizing.
    pub(crate) fn isq_type(self) -> Option<mistralrs::IsqType> {
        use mistralrs::IsqType as T;
        Some(match self {
            Self::None => return None,
            Self::Q4_0 => T::Q4_0,
            Self::Q4_1 => T::Q4_1,
            Self::Q5_0 => T::Q5_0,
            Self::Q5_1 => T::Q5_1,
            Self::Q8_0 => T::Q8_0,
            Self::Q8_1 => T::Q8_1,
            Self::Q2K => T::Q2K,
            Self::Q3K => T::Q3K,
            Self::Q4K => T::Q4K,
            Self::Q5K => T::Q5K,
            Self::Q6K => T::Q6K,
            Self::Q8K => T::Q8K,
            Self::Hqq4 => T::HQQ4,
            Self::Hqq8 => T::HQQ8,
            Self::Fp8 => T::F8E4M3,
            Self::Afq2 => T::AFQ2,
            Self::Afq3 => T::AFQ3,
            Self::Afq4 => T::AFQ4,
            Self::Afq6 => T::AFQ6,
            Self::Afq8 => T::AFQ8,
            Self::F8q8 => T::F8Q8,
            Self::Mxfp4 => T::MXFP4,
        })
    }
}

/// The flags' spelling is the table's (`--quantize q6k`), with the same aliases as serde's.
impl clap::ValueEnum for Quantization {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [Quantization; 23] = {
            let mut all = [Quantization::None; 23];
            let mut i = 0;
            while i < TABLE.len() {
                all[i] = TABLE[i].q;
                i += 1;
            }
            all
        };
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let value = clap::builder::PossibleValue::new(self.config_name()).help(self.help());
        Some(match self {
            Self::Q4K => value.alias("q4"),
            Self::Q8_0 => value.alias("q8"),
            _ => value,
        })
    }
}

impl fmt::Display for Quantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.facts().label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_type_has_one_row() {
        for q in Quantization::value_variants() {
            assert_eq!(TABLE.iter().filter(|f| f.q == *q).count(), 1, "{q:?}");
        }
        assert_eq!(TABLE.len(), Quantization::value_variants().len());
    }

    #[test]
    fn config_flags_and_serde_spell_each_type_alike() {
        for q in Quantization::all() {
            let name = q.config_name();
            assert_eq!(name, q.to_string().to_ascii_lowercase());
            assert_eq!(Quantization::from_str(name, true), Ok(q), "clap reads {name}");
            let read: Quantization = serde_json::from_value(name.into()).unwrap();
            assert_eq!(read, q, "serde reads {name}");
            assert_eq!(serde_json::to_value(q).unwrap(), serde_json::Value::from(name));
        }
    }

    #[test]
    fn the_older_names_q4_and_q8_still_read() {
        assert_eq!(Quantization::from_str("q4", true), Ok(Quantization::Q4K));
        assert_eq!(Quantization::from_str("q8", true), Ok(Quantization::Q8_0));
        let q: Quantization = serde_json::from_str("\"q8\"").unwrap();
        assert_eq!(q, Quantization::Q8_0);
    }

    #[test]
    fn only_block_quants_with_simd_kernels_are_fast_on_the_cpu() {
        let fast: Vec<_> = Quantization::all()
            .filter(|q| q.cpu_speed() == CpuSpeed::Simd)
            .map(|q| q.to_string())
            .collect();
        assert_eq!(fast, ["Q8_0", "Q6K", "Q5K", "Q4K", "Q3K", "Q2K", "Q8K", "Q4_0"]);
        assert_eq!(Quantization::None.bits_per_weight(), None);
        assert_eq!(Quantization::Q4K.bits_per_weight(), Some(4.5));
    }
}
