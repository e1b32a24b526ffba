//! Criterion benchmarks of the Markdown renderer: a typical long answer cold and cached,
//! the per-token cost of streaming, and the pathological inputs the caps exist for.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use gemma_tui::markdown::{render, warm_up, CodeTheme, MarkdownCache};

/// About 20 KB of prose, lists, a table and 10 code blocks in five languages.
fn typical_answer() -> String {
    let langs = ["rust", "python", "bash", "json", "typescript"];
    let mut md = String::from("# Answer\n\n");
    for i in 0..10 {
        md.push_str(&format!("## Step {i}\n\nSome **explanation** with `inline code`, a [link](https://example.com/{i}) and enough words to wrap a few times at one hundred and twenty columns, repeated. "));
        md.push_str(&"Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(8));
        md.push_str(
            "\n\n- point one\n- point two\n  - nested point\n\n| key | value |\n|---|---|\n| a | 1 |\n| b | 2 |\n\n",
        );
        md.push_str(&format!("```{}\n", langs[i % langs.len()]));
        for line in 0..25 {
            md.push_str(&format!(
                "    let value_{line} = compute(\"text\", {line}, [1, 2, 3]); // note\n"
            ));
        }
        md.push_str("```\n\n");
    }
    md
}

fn typical(c: &mut Criterion) {
    warm_up();
    let md = typical_answer();
    eprintln!("typical answer: {} bytes", md.len());
    // Finished code blocks are memoized by content, so this one measures parse + layout
    // with highlighting already done (a resize, or a fresh cache over old messages).
    c.bench_function("render 20KB/10 blocks @120 cold, highlight memoized", |b| {
        b.iter(|| render(black_box(&md), 120, CodeTheme::Dark))
    });
    // Unique code every time: the true first render of a new answer.
    let mut n = 0u64;
    let mut group = c.benchmark_group("first render");
    group.sample_size(10);
    group.bench_function("render 20KB/10 blocks @120 cold, nothing memoized", |b| {
        b.iter_batched(
            || {
                n += 1;
                md.replace("// note", &format!("// note {n}"))
            },
            |md| render(&md, 120, CodeTheme::Dark),
            BatchSize::LargeInput,
        )
    });
    group.finish();
    let mut cache = MarkdownCache::new();
    let now = Instant::now();
    cache.lines(1, &md, 120, CodeTheme::Dark, false, now);
    c.bench_function("render 20KB/10 blocks @120 cached", |b| {
        b.iter(|| cache.lines(1, black_box(&md), 120, CodeTheme::Dark, false, now).len())
    });
}

/// Streams a 2,000-token answer token by token with 10 ms between tokens (100 tokens/s),
/// through the cache as the app would; reports the total per answer. Divide by 2,000 for
/// the amortized cost per token.
fn streaming(c: &mut Criterion) {
    let md = typical_answer();
    let tokens: Vec<usize> = md.char_indices().map(|(i, _)| i).step_by(md.len() / 2000).collect();
    let mut group = c.benchmark_group("streaming");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("2000 tokens, 10ms apart, throttled", |b| {
        b.iter(|| {
            let mut cache = MarkdownCache::new();
            let start = Instant::now();
            for (n, &end) in tokens.iter().enumerate() {
                let now = start + Duration::from_millis(10 * n as u64);
                black_box(cache.lines(1, &md[..end], 120, CodeTheme::Dark, true, now).len());
            }
            cache.lines(1, &md, 120, CodeTheme::Dark, false, start).len()
        })
    });
    group.finish();
}

fn pathological(c: &mut Criterion) {
    let mut group = c.benchmark_group("pathological");
    group.sample_size(10);
    let cases = [
        ("5MB without line breaks", "word ".repeat(1024 * 1024)),
        (
            "[ x100000 in json fence",
            format!("```json\n{}\n```", "[".repeat(100_000)),
        ),
        ("lists nested 5000 deep", "- ".repeat(5_000) + "x"),
        ("quotes nested 5000 deep", ">".repeat(5_000) + " x"),
    ];
    for (name, md) in &cases {
        group.bench_function(*name, |b| b.iter(|| render(black_box(md), 120, CodeTheme::Dark).len()));
    }
    group.finish();
}

criterion_group!(benches, typical, streaming, pathological);
criterion_main!(benches);
