//! The planner's figures for the three published Gemma 2 configs, against sums worked out by
//! hand here (so a change of formula shows up as a failing number, not a silent drift).

use super::*;

fn preset(repo: &str) -> ModelShape {
    ModelShape::of_preset(repo).expect("preset")
}

#[test]
fn parameter_counts_match_the_published_sizes() {
    // 2B: embedding 256000*2304; per layer attention 2304*256*(2*8+2*4), MLP 3*2304*9216.
    let two = preset("google/gemma-2-2b-it");
    assert_eq!(two.embedding_params(), 589_824_000);
    assert_eq!(two.linear_params(), 26 * (14_155_776 + 63_700_992));
    assert_eq!(two.params(), 2_614_341_888); // "2.61B"
                                             // 9B: per layer 3584*256*(32+16) + 3*3584*14336.
    let nine = preset("google/gemma-2-9b-it");
    assert_eq!(nine.linear_params(), 42 * (44_040_192 + 154_140_672));
    assert_eq!(nine.params(), 9_241_705_984); // "9.24B"
                                              // 27B: head_dim 128; per layer 4608*128*(64+32) + 3*4608*36864.
    let big = preset("google/gemma-2-27b-it");
    assert_eq!(big.linear_params(), 46 * (56_623_104 + 509_607_936));
    assert_eq!(big.params(), 27_227_128_320); // "27.2B"
}

#[test]
fn weights_at_each_quantization() {
    let two = preset("google/gemma-2-2b-it");
    // Unquantized on a CPU (f32) and on a GPU (bf16).
    assert_eq!(estimate(&two, Quantization::None, 4).weights, 10_457_367_552.0);
    assert_eq!(estimate(&two, Quantization::None, 2).weights, 5_228_683_776.0);
    // Q4K on a CPU: linear layers + output head at 4.5 bits, embedding and norms at f32.
    let q4 = (2_024_275_968.0 + 589_824_000.0) * 4.5 / 8.0 + (589_824_000.0 + 241_920.0) * 4.0;
    assert_eq!(estimate(&two, Quantization::Q4K, 4).weights, q4);
    let q8 = (2_024_275_968.0 + 589_824_000.0) * 8.5 / 8.0 + (589_824_000.0 + 241_920.0) * 4.0;
    assert_eq!(estimate(&two, Quantization::Q8_0, 4).weights, q8);
    let q6 = (2_024_275_968.0 + 589_824_000.0) * 6.5625 / 8.0 + (589_824_000.0 + 241_920.0) * 4.0;
    assert_eq!(estimate(&two, Quantization::Q6K, 4).weights, q6);
    let q5 = (2_024_275_968.0 + 589_824_000.0) * 5.5 / 8.0 + (589_824_000.0 + 241_920.0) * 4.0;
    assert_eq!(estimate(&two, Quantization::Q5K, 4).weights, q5);

    // 27B in bf16 is ~54 GB of weights; Q4K on a GPU ~17.7 GB.
    let big = preset("google/gemma-2-27b-it");
    assert_eq!(estimate(&big, Quantization::None, 2).weights, 54_454_256_640.0);
    let q4 = (26_046_627_840.0 + 1_179_648_000.0) * 4.5 / 8.0 + (1_179_648_000.0 + 852_480.0) * 2.0;
    assert_eq!(estimate(&big, Quantization::Q4K, 2).weights, q4);
    let nine = preset("google/gemma-2-9b-it");
    assert_eq!(estimate(&nine, Quantization::None, 2).weights, 18_483_411_968.0);
}

#[test]
fn cache_and_activations_for_the_usable_context() {
    let two = preset("google/gemma-2-2b-it");
    let e = estimate(&two, Quantization::Q4K, 4);
    // K and V, 26 layers, 4 KV heads of 256, 4096 tokens, f32.
    assert_eq!(e.kv_cache, (2 * 26 * 4 * 256 * 4096 * 4) as f64);
    // Scores 8 heads x 4096 x 4096 f32, plus gate and up of 4096 x 9216.
    assert_eq!(e.activations, (8 * 4096 * 4096 * 4 + 2 * 4096 * 9216 * 4) as f64);
    let nine = estimate(&preset("google/gemma-2-9b-it"), Quantization::None, 2);
    assert_eq!(nine.kv_cache, (2 * 42 * 8 * 256 * 4096 * 2) as f64);
    let big = estimate(&preset("google/gemma-2-27b-it"), Quantization::None, 2);
    assert_eq!(big.kv_cache, (2 * 46 * 16 * 128 * 4096 * 2) as f64);
}

#[test]
fn a_load_that_cannot_fit_names_the_quantization_that_would() {
    let big = preset("google/gemma-2-27b-it");
    let free = 24.0 * GIB;
    let bf16 = estimate(&big, Quantization::None, 2);
    assert_eq!(Fit::of(bf16.total(), free), Fit::WillNotFit);
    let fitting = fitting_quantizations(&big, 2, free);
    // Q8_0 and Q6K are still too big for 24 GiB; Q5K squeezes in (tight), Q4K fits.
    assert_eq!(fitting.first(), Some(&Quantization::Q5K), "{fitting:?}");
    assert!(fitting.contains(&Quantization::Q4K) && !fitting.contains(&Quantization::Q6K));
    let q4 = estimate(&big, Quantization::Q4K, 2).total();
    let line = describe(
        "gemma-2-27b",
        Quantization::None,
        &bf16,
        free,
        Some((Quantization::Q4K, q4)),
    );
    assert!(line.contains("will not fit") && line.contains("Q4K"), "{line}");
    assert_eq!(Fit::of(9.0, 10.0), Fit::Tight);
    assert_eq!(Fit::of(5.0, 10.0), Fit::Fits);
}

#[test]
fn a_folders_shape_comes_from_its_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"{"num_hidden_layers": 26, "hidden_size": 2304, "intermediate_size": 9216,
        "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 256000,
        "sliding_window": 4096, "max_position_embeddings": 8192}"#;
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    assert_eq!(ModelShape::of_folder(dir.path()), Ok(preset("google/gemma-2-2b-it")));
    std::fs::write(dir.path().join("config.json"), r#"{"hidden_size": 8}"#).unwrap();
    assert!(ModelShape::of_folder(dir.path())
        .unwrap_err()
        .contains("num_hidden_layers"));
}
