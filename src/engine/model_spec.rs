//! What the user picked to load: a preset, a Hugging Face repo id, or a folder. Parsing a name
//! typed in `/model`, `--model`, the config or the settings pane ends here; finding the files
//! (hub cache, downloads) is `source`'s job.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::source::SourceError;

/// The models offered by name, as in the settings pane.
pub const PRESETS: [(&str, &str); 3] = [
    ("gemma-2-2b", "google/gemma-2-2b-it"),
    ("gemma-2-9b", "google/gemma-2-9b-it"),
    ("gemma-2-27b", "google/gemma-2-27b-it"),
];

/// What the user asked to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// A Hugging Face repo id (presets resolve to one).
    Repo(String),
    Dir(PathBuf),
    /// A model as a remote server names it (llama.cpp's file name, mistral.rs's path on the
    /// server); `None`: the server's own (its only or first) model. Only a server loads these.
    Served(Option<String>),
}

impl ModelSpec {
    /// A short name for status lines.
    pub fn display_name(&self) -> String {
        match self {
            Self::Repo(repo) => PRESETS
                .iter()
                .find(|(_, r)| r == repo)
                .map_or_else(|| repo.clone(), |(name, _)| name.to_string()),
            Self::Dir(dir) => dir
                .file_name()
                .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
            Self::Served(Some(name)) => name.clone(),
            Self::Served(None) => "the server's model".into(),
        }
    }

    /// `name` as a server takes it: a preset as its repo id (what `mistralrs serve` and vLLM
    /// call it), anything else as written; blank means the server's own model.
    pub fn served(name: &str) -> Self {
        let name = name.trim();
        match PRESETS.iter().find(|(preset, repo)| name == *preset || name == *repo) {
            Some((_, repo)) => Self::Repo(repo.to_string()),
            None if name.is_empty() => Self::Served(None),
            None => Self::Served(Some(name.to_string())),
        }
    }
}

impl FromStr for ModelSpec {
    type Err = SourceError;

    fn from_str(s: &str) -> Result<Self, SourceError> {
        let s = s.trim();
        if let Some((_, repo)) = PRESETS.iter().find(|(name, repo)| s == *name || s == *repo) {
            return Ok(Self::Repo(repo.to_string()));
        }
        let path = Path::new(s);
        if path.exists() {
            return Ok(Self::Dir(path.to_path_buf()));
        }
        let looks_like_path = s.starts_with(['/', '.', '~']) || s.contains('\\') || s.matches('/').count() > 1;
        if looks_like_path {
            return Err(SourceError::NoSuchFolder(path.to_path_buf()));
        }
        match s.split_once('/') {
            Some((owner, name)) if !owner.is_empty() && !name.is_empty() => Ok(Self::Repo(s.to_string())),
            _ => Err(SourceError::UnknownModel(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_repo_ids_and_folders_parse() {
        assert_eq!("gemma-2-9b".parse(), Ok(ModelSpec::Repo("google/gemma-2-9b-it".into())));
        assert_eq!(
            "google/gemma-2-2b-it".parse(),
            Ok(ModelSpec::Repo("google/gemma-2-2b-it".into()))
        );
        assert_eq!(
            "someone/gemma-fork".parse(),
            Ok(ModelSpec::Repo("someone/gemma-fork".into()))
        );
        assert_eq!("/".parse(), Ok(ModelSpec::Dir("/".into())));
        assert!(matches!(
            "gemma-2-7b".parse::<ModelSpec>(),
            Err(SourceError::UnknownModel(_))
        ));
        assert!(matches!(
            "./no/such/dir".parse::<ModelSpec>(),
            Err(SourceError::NoSuchFolder(_))
        ));
        assert_eq!(
            ModelSpec::Repo("google/gemma-2-27b-it".into()).display_name(),
            "gemma-2-27b"
        );
    }
}
