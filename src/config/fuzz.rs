//! The config file's fuzz targets (see `docs/reliability.md`): any TOML-ish text parses to a
//! config or to a message, never a panic; and saving settings over any file that parses
//! either refuses and leaves it alone or reads back as saved, keeping the rest of the file.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::{save_defaults, Config};
use crate::engine::{DeviceChoice, Quantization};
use crate::keymap::Keymap;
use crate::markdown::CodeTheme;
use crate::settings::{Settings, SettingsPatch};

const TABLES: &[&str] = &[
    "[model]",
    "[sampling]",
    "[chat]",
    "[keys]",
    "[keys.sessions]",
    "[keys.settings]",
    "[keys.quit]",
    "[remote]",
    "[remote.endpoints]",
    "[remote.endpoints.box]",
    "[remote.endpoints.\"a b\"]",
    "[[model]]",
    "[[remote.endpoints.box]]",
    "[extra]",
];

const KEYS: &[&str] = &[
    "name",
    "device",
    "quantize",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
    "max_new_tokens",
    "system_prompt",
    "markdown",
    "code_theme",
    "quit",
    "send",
    "open",
    "delete",
    "use",
    "url",
    "model",
    "api_key_env",
    "server",
    "connect_timeout_s",
    "first_token_timeout_s",
    "endpoints",
    "sampling.temperature",
    "model.name",
];

/// Values of every TOML type, the awkward numbers, and the strings this config reads.
const LITERALS: &[&str] = &[
    "nan",
    "+nan",
    "-nan",
    "inf",
    "-inf",
    "1e309",
    "-1e309",
    "-0.0",
    "0.0",
    "1e-400",
    "0.5",
    "1.0",
    "2",
    "-1",
    "0",
    "4294967296",
    "9223372036854775808",
    "true",
    "false",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "0x10",
    "0o7",
    "0b1",
    "1_000",
    "'''multi\nline'''",
    "'lit'",
    "\"\"",
    "\"cpu\"",
    "\"cuda:1\"",
    "\"cuda:99999999999999999999\"",
    "\"metal\"",
    "\"tpu\"",
    "\"q4k\"",
    "\"q4\"",
    "\"q9\"",
    "\"none\"",
    "\"light\"",
    "\"dark\"",
    "\"vllm\"",
    "\"llama.cpp\"",
    "\"http://h:1\"",
    "\"   \"",
    "\"box\"",
    "\"ctrl-q\"",
    "\"hyper-x\"",
    "\"f99\"",
    "\"f0\"",
    "\"ctrl--\"",
    "\"-\"",
    "\"shift-\"",
    "[\"ctrl-x\", \"alt-enter\"]",
    "[\"ctrl-q\", 3]",
    "{ open = [\"o\"] }",
    "{ url = \"http://b\", connect_timeout_s = 0 }",
    "\"\\u0000\"",
    "\"\\uD800\"",
];

fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => prop::sample::select(LITERALS).prop_map(str::to_owned),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|x| format!("{x:?}")),
        1 => "\"[^\"\\\\\\n]{0,16}\"",
        1 => (1..20_000usize).prop_map(|n| format!("\"{}\"", "x".repeat(n))),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key(), inner), 0..3).prop_map(|fields| {
                let fields: Vec<String> = fields.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", fields.join(", "))
            }),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_-]{1,8}",
        1 => "\"[^\"\\\\\\n]{0,6}\"",
    ]
}

/// Text that breaks TOML's syntax.
const BROKEN: &[&str] = &[
    "\"\"\"un\nterminated",
    "\"unterminated",
    "[model",
    "[]",
    "= 1",
    "a = ",
    "a = 1 = 2",
    "\u{0}\u{1}",
    "[model]\n[model]",
];

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(TABLES).prop_map(str::to_owned),
        6 => (key(), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => Just("# a comment".to_owned()),
        1 => Just(String::new()),
        1 => prop::sample::select(BROKEN).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Lines in any order: mostly a syntax error somewhere.
fn lines() -> impl Strategy<Value = String> {
    (prop::collection::vec(line(), 0..16), any::<bool>())
        .prop_map(|(lines, crlf)| lines.join(if crlf { "\r\n" } else { "\n" }))
}

/// Well-formed TOML, each table once and each key once in it: the errors are in the values.
fn tables() -> impl Strategy<Value = String> {
    let table = prop::collection::btree_map(key(), value(), 0..6);
    prop::collection::btree_map(prop::sample::select(TABLES), table, 0..5).prop_map(|tables| {
        let mut out = String::new();
        for (name, keys) in tables {
            out += &format!("{name}\n");
            for (k, v) in keys {
                out += &format!("{k} = {v}\n");
            }
        }
        out
    })
}

/// Config-file-ish text.
fn tomlish() -> impl Strategy<Value = String> {
    prop_oneof![tables(), lines()]
}

/// Keys this program reads, each with values it accepts, and a few keys it does not know.
const GOOD: &[(&str, &str, &[&str])] = &[
    ("model", "name", &["\"gemma-2-2b\"", "\"/models/x # not a comment\""]),
    ("model", "device", &["\"cpu\"", "\"cuda:1\"", "\"auto\""]),
    ("model", "quantize", &["\"q4k\"", "\"none\"", "\"q4\""]),
    ("model", "nmae", &["\"typo\""]),
    ("sampling", "temperature", &["0.7", "0", "1.5"]),
    ("sampling", "top_k", &["40", "1"]),
    ("sampling", "top_p", &["0.9", "1.0"]),
    ("sampling", "max_new_tokens", &["100", "1"]),
    (
        "chat",
        "system_prompt",
        &["\"be brief\"", "'''multi\nline'''", "\"\"", "\"\\u0000\""],
    ),
    ("chat", "markdown", &["true", "false"]),
    ("chat", "code_theme", &["\"light\"", "\"dark\""]),
    ("keys", "quit", &["[\"ctrl-x\"]", "[]"]),
    ("keys", "sessions", &["{ open = [\"o\"] }"]),
    ("remote.endpoints.box", "url", &["\"http://b:1\""]),
    ("remote.endpoints.box", "server", &["\"vllm\""]),
    ("extra", "z", &["1"]),
];

/// How a file groups its keys: `[table]` headers, dotted keys at the top, inline tables.
#[derive(Debug, Clone, Copy)]
enum Layout {
    Tables,
    Dotted,
    Inline,
}

/// A config file this program reads, with comments, in one of TOML's layouts.
fn good_config() -> impl Strategy<Value = String> {
    let layout = prop::sample::select(vec![Layout::Tables, Layout::Dotted, Layout::Inline]);
    let chosen = prop::collection::btree_map(0..GOOD.len(), any::<prop::sample::Index>(), 0..10);
    (chosen, layout).prop_map(|(chosen, layout)| {
        let mut by_table: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (i, value) in chosen {
            let (table, key, values) = GOOD[i];
            by_table
                .entry(table)
                .or_default()
                .push(format!("{key} = {}", value.get(values)));
        }
        render(&by_table, layout)
    })
}

fn render(by_table: &BTreeMap<&str, Vec<String>>, layout: Layout) -> String {
    let mut out = String::from("# my settings\n");
    for (table, keys) in by_table {
        let multi_line = keys.iter().any(|k| k.contains('\n'));
        match layout {
            Layout::Dotted => keys.iter().for_each(|k| out += &format!("{table}.{k}  # why\n")),
            Layout::Inline if !multi_line => out += &format!("{table} = {{ {} }}\n", keys.join(", ")),
            _ => out += &format!("\n[{table}]\n# about {table}\n{}\n", keys.join("\n")),
        }
    }
    out
}

/// Everything the program does with a config it has read.
fn use_config(config: &Config, flag: &str) {
    config.settings();
    config.warnings(Path::new("/c/config.toml"));
    Keymap::with_overrides(&config.keys).expect("a parsed config's keys were checked");
    config
        .remote
        .validate()
        .expect("a parsed config's endpoints were checked");
    let _ = config.remote.choose(None);
    let _ = config.remote.choose(Some(flag));
}

/// A change the settings pane could save.
fn patch() -> impl Strategy<Value = SettingsPatch> {
    let device = prop::sample::select(vec![DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Cuda(1)]);
    let quantization = prop::sample::select(vec![Quantization::None, Quantization::Q4K, Quantization::Q8_0]);
    let theme = prop::sample::select(vec![CodeTheme::Dark, CodeTheme::Light]);
    (
        prop::option::of("[a-z0-9/._-]{1,20}"),
        prop::option::of(device),
        prop::option::of(quantization),
        prop::option::of(any::<String>()),
        prop::option::of(any::<bool>()),
        prop::option::of(theme),
    )
        .prop_map(
            |(model, device, quantization, system_prompt, markdown, code_theme)| SettingsPatch {
                model,
                device,
                quantization,
                system_prompt,
                markdown,
                code_theme,
                ..SettingsPatch::default()
            },
        )
}

/// Saves `wanted` over `text` and checks what the file says afterwards.
fn check_save(text: &str, wanted: &Settings) -> Result<(), TestCaseError> {
    let Ok(before) = Config::parse(text) else {
        return Ok(());
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.toml");
    std::fs::write(&file, text).expect("write");
    let saved = save_defaults(&file, wanted);
    let now = std::fs::read_to_string(&file).expect("read");
    if let Err(e) = saved {
        prop_assert_eq!(now.as_str(), text, "refused ({}) but changed", e);
        return Ok(());
    }
    let after = Config::parse(&now);
    prop_assert!(after.is_ok(), "saved a file that does not parse: {:?}\n{}", after, now);
    let after = after.expect("checked");
    prop_assert_eq!(&after.settings(), wanted, "{}", now);
    prop_assert_eq!(&after.keys, &before.keys);
    prop_assert_eq!(&after.remote, &before.remote);
    prop_assert_eq!(&after.unknown_keys, &before.unknown_keys);
    Ok(())
}

proptest! {
    #![proptest_config(crate::fuzzing::config(256))]

    #[test]
    fn fuzz_config_parses_or_says_why(text in tomlish(), flag in "[a-z:/.]{0,12}") {
        match Config::parse(&text) {
            Ok(config) => use_config(&config, &flag),
            Err(message) => prop_assert!(!message.trim().is_empty()),
        }
    }

    #[test]
    fn fuzz_config_parses_any_text(text in any::<String>()) {
        if let Err(message) = Config::parse(&text) {
            prop_assert!(!message.trim().is_empty());
        }
    }
}

proptest! {
    // Each case writes a file and syncs it.
    #![proptest_config(crate::fuzzing::config(64))]

    #[test]
    fn fuzz_saving_settings_over_a_file_reads_back(text in good_config(), patch in patch()) {
        let current = Config::parse(&text).map(|c| c.settings()).unwrap_or_default();
        check_save(&text, &current.patched(&patch))?;
    }
}
