//! Writing settings back into config.toml as the defaults, the way a person would edit it:
//! only the keys whose value changes are touched, the user's comments, order and other keys
//! stay (`toml_edit`), and the file is replaced atomically (a temporary file in the same
//! folder, fsync, rename), so a crash or a full disk leaves the old file whole.

use std::io::Write;
use std::path::Path;

use toml_edit::{value, DocumentMut, Item, Table};

use super::Config;
use crate::engine::SamplingField;
use crate::markdown::CodeTheme;
use crate::settings::Settings;

/// One key of the file: its table, its name, its value as written.
fn entries(s: &Settings) -> Vec<(&'static str, &'static str, Option<toml_edit::Value>)> {
    let mut out = vec![
        ("model", "name", Some(s.model.clone().into())),
        ("model", "device", Some(s.device.to_string().into())),
        ("model", "quantize", Some(s.quantization.config_name().into())),
        ("remote", "use", s.endpoint.clone().map(Into::into)),
    ];
    for field in SamplingField::all() {
        let v = s.sampling.get(field);
        let written: Option<toml_edit::Value> = match field {
            SamplingField::TopK if v == 0.0 => None, // unset = off
            _ if field.spec().integer => Some((v as i64).into()),
            _ => Some(v.into()),
        };
        out.push(("sampling", field.spec().name, written));
    }
    let theme = match s.look.code_theme {
        CodeTheme::Dark => "dark",
        CodeTheme::Light => "light",
    };
    out.extend([
        (
            "chat",
            "system_prompt",
            Some(s.system_prompt.clone().unwrap_or_default().into()),
        ),
        ("chat", "markdown", Some(s.look.markdown.into())),
        ("chat", "code_theme", Some(theme.into())),
    ]);
    out
}

/// Writes the keys of `settings` that differ from what `file` says now. A file that does not
/// exist is created; one that cannot be parsed is left alone (fix it first: the error says
/// where). Returns the file's path for the notice.
pub fn save_defaults(file: &Path, settings: &Settings) -> Result<String, String> {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    let current = Config::parse(&text)
        .map_err(|e| format!("{shown} has an error, fix it first: {e}"))?
        .settings();
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("{shown} has an error, fix it first: {e}"))?;
    let before = entries(&current);
    // A server's model name is not a model for this machine: `[model] name` stays as it is.
    let mut settings = settings.clone();
    if settings.endpoint.is_some() {
        settings.model = current.model.clone();
    }
    for ((table, key, new), (_, _, old)) in entries(&settings).into_iter().zip(before) {
        if new.as_ref().map(ToString::to_string) == old.as_ref().map(ToString::to_string) {
            continue;
        }
        let section = doc
            .entry(table)
            .or_insert_with(|| Item::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("{shown}: `{table}` is not a table"))?;
        match new {
            // Keep the comment beside a value the user wrote: change only the value.
            Some(v) => match section.get_mut(key).and_then(Item::as_value_mut) {
                Some(existing) => {
                    let decor = existing.decor().clone();
                    *existing = v;
                    *existing.decor_mut() = decor;
                }
                None => {
                    section.insert(key, value(v));
                }
            },
            None => {
                section.remove(key);
            }
        }
    }
    write_atomically(file, doc.to_string().as_bytes()).map_err(|e| format!("cannot write {shown}: {e}"))?;
    Ok(shown)
}

/// Replaces `file` with `bytes` all at once: the old file stays whole until the rename.
fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = file
        .file_name()
        .map_or_else(|| "config.toml".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut out = std::fs::File::create(&temp)?;
        out.write_all(bytes)?;
        out.sync_all()?;
        std::fs::rename(&temp, file)?;
        // The rename itself is durable once the folder is synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Quantization;

    #[test]
    fn only_changed_keys_are_written_and_comments_stay() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        let original = "# my settings\n[model]\nname = \"gemma-2-2b\"  # the small one\n\n[sampling]\n# warmer\ntemperature = 0.7\n";
        std::fs::write(&file, original).unwrap();
        let mut s = Config::parse(original).unwrap().settings();
        s.quantization = Quantization::Q6K;
        s.sampling.temperature = 0.9;
        s.sampling.top_k = Some(40);
        save_defaults(&file, &s).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("# my settings\n[model]\nname = \"gemma-2-2b\"  # the small one\n"),
            "{text}"
        );
        assert!(text.contains("# warmer\ntemperature = 0.9"), "{text}");
        assert!(
            text.contains("quantize = \"q6k\"") && text.contains("top_k = 40"),
            "{text}"
        );
        assert!(!text.contains("max_new_tokens"), "unchanged keys are not added: {text}");
        assert_eq!(Config::parse(&text).unwrap().settings(), s, "it reads back as saved");
    }

    #[test]
    fn a_missing_file_is_created_and_a_broken_one_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("new").join("config.toml");
        let s = Settings {
            system_prompt: Some("반말로 대답해 줘".into()),
            ..Settings::default()
        };
        save_defaults(&file, &s).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(Config::parse(&text).unwrap().settings(), s, "{text}");

        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "[sampling\n").unwrap();
        let err = save_defaults(&broken, &s).unwrap_err();
        assert!(err.contains("fix it first") && err.contains("line 1"), "{err}");
        assert_eq!(std::fs::read_to_string(&broken).unwrap(), "[sampling\n", "untouched");
    }

    #[test]
    fn where_the_model_runs_is_saved_as_use_and_the_local_model_name_stays() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        let table = "[model]\nname = \"gemma-2-2b\"\n\n[remote.endpoints.gpu-box]\nurl = \"http://gpu-box:8000\"\n";
        std::fs::write(&file, table).unwrap();
        let on_server = Settings {
            model: "google/gemma-2-27b-it".into(),
            endpoint: Some("gpu-box".into()),
            ..Settings::default()
        };
        save_defaults(&file, &on_server).unwrap();
        let config = Config::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(config.remote.use_endpoint.as_deref(), Some("gpu-box"));
        assert_eq!(
            config.model.name, "gemma-2-2b",
            "a server's model name is not a local model"
        );
        let here = Settings {
            model: "gemma-2-2b".into(),
            ..Settings::default()
        };
        save_defaults(&file, &here).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(Config::parse(&text).unwrap().remote.use_endpoint, None, "{text}");
        assert!(
            text.contains("[remote.endpoints.gpu-box]"),
            "the endpoint is kept: {text}"
        );
    }

    #[test]
    fn a_file_that_cannot_be_written_stays_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "[chat]\nmarkdown = true\n").unwrap();
        let mut s = Settings::default();
        s.look.markdown = false;
        // A folder where the temporary file would go makes the write fail.
        let temp = dir.path().join(format!(".config.toml.{}.tmp", std::process::id()));
        std::fs::create_dir(&temp).unwrap();
        let err = save_defaults(&file, &s).unwrap_err();
        assert!(err.contains("cannot write"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "[chat]\nmarkdown = true\n");
    }
}
