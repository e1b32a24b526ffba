//! Shared by the property-based fuzz targets, the tests named `fuzz_*` (`cargo test --lib
//! fuzz_`; see `docs/reliability.md`). They use proptest because cargo-fuzz needs nightly Rust,
//! which the build machines do not have.

use proptest::test_runner::Config;

/// A proptest config that runs `cases` cases, or `PROPTEST_CASES` of them when it is set, so
/// that one variable turns every target into a long run. (`Config::with_cases` alone would
/// ignore the variable.)
pub(crate) fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        ..Config::default()
    }
}
