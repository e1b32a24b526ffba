//! Where a model's files come from: the Hugging Face cache that transformers and huggingface-cli
//! share, and downloads with progress. What the user picked is a [`ModelSpec`](super::ModelSpec).
//!
//! mistral.rs 0.8.1 ignores `HF_HUB_OFFLINE` and stalls on a repo id without network, so
//! gemma-tui resolves every model to a local folder itself and hands mistral.rs only folders.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hf_hub::api::tokio::{ApiBuilder, ApiError, Progress};
use tokio::sync::mpsc::UnboundedSender;

use super::model_dir::missing_files;
use super::protocol::LoadProgress;

/// How long to wait for the hub's first answer before calling it unreachable.
const HUB_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("unknown model `{0}`: use gemma-2-2b, gemma-2-9b, gemma-2-27b, a Hugging Face repo id (owner/name) or a model folder")]
    UnknownModel(String),
    #[error(
        "`{0}` is a model on a server: choose the server in the settings pane's Runs on row (or start with --remote)"
    )]
    ServedName(String),
    #[error("model folder {0} does not exist")]
    NoSuchFolder(PathBuf),
    #[error(
        "{repo} is gated and the hub refused access (HTTP {status}): accept the Gemma licence at \
         https://huggingface.co/{repo} with your account, then set HF_TOKEN (or run `huggingface-cli login`)"
    )]
    Gated { repo: String, status: u16 },
    #[error("there is no model {repo} on the Hugging Face hub (HTTP 404): check the name")]
    NoSuchRepo { repo: String },
    #[error(
        "cannot reach the Hugging Face hub to download {repo} ({detail}): connect to the internet, \
         or put the model in the Hugging Face cache ({cache}), or pass a local folder with --model <dir>"
    )]
    Unreachable {
        repo: String,
        detail: String,
        cache: String,
    },
    #[error("downloading {repo} failed: {detail}")]
    Download { repo: String, detail: String },
}

/// The environment that decides where the hub cache is and who we are to the hub.
#[derive(Debug, Clone, Default)]
pub struct HubEnv {
    pub hf_hub_cache: Option<PathBuf>,
    pub hf_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub token: Option<String>,
    pub token_path: Option<PathBuf>,
    /// `HF_ENDPOINT`: a mirror, or a local server in tests.
    pub endpoint: Option<String>,
}

impl HubEnv {
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        Self {
            hf_hub_cache: var("HF_HUB_CACHE").map(PathBuf::from),
            hf_home: var("HF_HOME").map(PathBuf::from),
            home: directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()),
            token: var("HF_TOKEN").map(|v| v.to_string_lossy().trim().to_string()),
            token_path: var("HF_TOKEN_PATH").map(PathBuf::from),
            endpoint: var("HF_ENDPOINT").map(|v| v.to_string_lossy().into_owned()),
        }
    }

    /// `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`, like huggingface_hub.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(dir) = &self.hf_hub_cache {
            return dir.clone();
        }
        self.hf_home().join("hub")
    }

    fn hf_home(&self) -> PathBuf {
        self.hf_home.clone().unwrap_or_else(|| {
            self.home
                .clone()
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".cache")
                .join("huggingface")
        })
    }

    /// `HF_TOKEN`, else the token file `huggingface-cli login` writes.
    pub fn token(&self) -> Option<String> {
        if let Some(token) = self.token.clone().filter(|t| !t.is_empty()) {
            return Some(token);
        }
        let file = self.token_path.clone().unwrap_or_else(|| self.hf_home().join("token"));
        std::fs::read_to_string(file)
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    }
}

/// A complete snapshot of `repo` in the hub cache: `refs/main` names it; if refs are missing,
/// the newest complete snapshot is taken.
pub fn cached_snapshot(cache: &Path, repo: &str) -> Option<PathBuf> {
    let repo_dir = cache.join(format!("models--{}", repo.replace('/', "--")));
    let snapshots = repo_dir.join("snapshots");
    if let Ok(sha) = std::fs::read_to_string(repo_dir.join("refs").join("main")) {
        let dir = snapshots.join(sha.trim());
        return missing_files(&dir).is_empty().then_some(dir);
    }
    let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| missing_files(p).is_empty())
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, p)| p)
}

/// Files a chat model needs; everything else in a repo (GGUF, original/ checkpoints) is skipped.
fn wanted(file: &str) -> bool {
    matches!(
        file,
        "config.json"
            | "generation_config.json"
            | "tokenizer.json"
            | "tokenizer_config.json"
            | "special_tokens_map.json"
            | "model.safetensors.index.json"
    ) || (file.ends_with(".safetensors") && !file.contains('/'))
}

/// Downloads the files of `repo` into the hub cache and returns the snapshot folder.
pub async fn download(
    repo: &str,
    env: &HubEnv,
    progress: &UnboundedSender<LoadProgress>,
) -> Result<PathBuf, SourceError> {
    let cache = env.cache_dir();
    let mut builder = ApiBuilder::new()
        .with_progress(false)
        .with_cache_dir(cache.clone())
        .with_token(env.token());
    if let Some(endpoint) = &env.endpoint {
        builder = builder.with_endpoint(endpoint.clone());
    }
    let unreachable = |detail: String| SourceError::Unreachable {
        repo: repo.to_string(),
        detail,
        cache: cache.display().to_string(),
    };
    let api = builder.build().map_err(|e| classify(repo, e, &unreachable))?;
    let api_repo = api.model(repo.to_string());
    let info = tokio::time::timeout(HUB_CONNECT_TIMEOUT, api_repo.info())
        .await
        .map_err(|_| unreachable(format!("no answer in {} s", HUB_CONNECT_TIMEOUT.as_secs())))?
        .map_err(|e| classify(repo, e, &unreachable))?;

    let mut snapshot = None;
    for file in info.siblings.iter().map(|s| s.rfilename.as_str()).filter(|f| wanted(f)) {
        let reporter = DownloadReporter {
            file: file.to_string(),
            total: 0,
            done: 0,
            tx: progress.clone(),
        };
        let path = api_repo
            .download_with_progress(file, reporter)
            .await
            .map_err(|e| classify(repo, e, &unreachable))?;
        snapshot = path.parent().map(Path::to_path_buf);
    }
    snapshot.ok_or_else(|| SourceError::Download {
        repo: repo.to_string(),
        detail: "the repo lists no model files".into(),
    })
}

fn classify(repo: &str, err: ApiError, unreachable: &dyn Fn(String) -> SourceError) -> SourceError {
    if let ApiError::RequestError(e) = &err {
        match e.status().map(|s| s.as_u16()) {
            Some(status @ (401 | 403)) => {
                return SourceError::Gated {
                    repo: repo.to_string(),
                    status,
                }
            }
            Some(404) => return SourceError::NoSuchRepo { repo: repo.to_string() },
            None if e.is_connect() || e.is_timeout() || e.is_request() => return unreachable(e.to_string()),
            _ => {}
        }
    }
    SourceError::Download {
        repo: repo.to_string(),
        detail: err.to_string(),
    }
}

/// Turns hf-hub's progress callbacks into [`LoadProgress`] events; never prints.
#[derive(Clone)]
struct DownloadReporter {
    file: String,
    total: u64,
    done: u64,
    tx: UnboundedSender<LoadProgress>,
}

impl DownloadReporter {
    fn report(&self) {
        let _ = self.tx.send(LoadProgress::Downloading {
            file: self.file.clone(),
            done_bytes: self.done,
            total_bytes: self.total,
        });
    }
}

impl Progress for DownloadReporter {
    async fn init(&mut self, size: usize, _filename: &str) {
        self.total = size as u64;
        self.report();
    }
    async fn update(&mut self, size: usize) {
        self.done += size as u64;
        self.report();
    }
    async fn finish(&mut self) {
        self.done = self.total;
        self.report();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_dir_follows_huggingface_hub_precedence() {
        let home = HubEnv {
            home: Some("/home/u".into()),
            ..Default::default()
        };
        assert_eq!(home.cache_dir(), PathBuf::from("/home/u/.cache/huggingface/hub"));
        let hf_home = HubEnv {
            hf_home: Some("/hf".into()),
            ..home.clone()
        };
        assert_eq!(hf_home.cache_dir(), PathBuf::from("/hf/hub"));
        let explicit = HubEnv {
            hf_hub_cache: Some("/cache".into()),
            ..hf_home
        };
        assert_eq!(explicit.cache_dir(), PathBuf::from("/cache"));
    }

    #[test]
    fn the_token_comes_from_the_env_then_the_token_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hf_file\n").unwrap();
        let env = HubEnv {
            hf_home: Some(dir.path().into()),
            ..Default::default()
        };
        assert_eq!(env.token().as_deref(), Some("hf_file"));
        let env = HubEnv {
            token: Some("hf_env".into()),
            ..env
        };
        assert_eq!(env.token().as_deref(), Some("hf_env"));
        assert_eq!(
            HubEnv {
                hf_home: Some("/nonexistent".into()),
                ..Default::default()
            }
            .token(),
            None
        );
    }

    fn fake_snapshot(cache: &Path, repo: &str, sha: &str, complete: bool) -> PathBuf {
        let snap = cache
            .join(format!("models--{}", repo.replace('/', "--")))
            .join("snapshots")
            .join(sha);
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        std::fs::write(snap.join("tokenizer.json"), "{}").unwrap();
        if complete {
            std::fs::write(snap.join("model.safetensors"), "").unwrap();
        }
        snap
    }

    #[test]
    fn a_complete_snapshot_named_by_refs_main_is_found() {
        let cache = tempfile::tempdir().unwrap();
        let repo = "google/gemma-2-9b-it";
        assert_eq!(cached_snapshot(cache.path(), repo), None);
        let snap = fake_snapshot(cache.path(), repo, "abc123", true);
        let refs = cache.path().join("models--google--gemma-2-9b-it/refs");
        std::fs::create_dir_all(&refs).unwrap();
        std::fs::write(refs.join("main"), "abc123\n").unwrap();
        assert_eq!(cached_snapshot(cache.path(), repo), Some(snap));
    }

    #[test]
    fn an_incomplete_snapshot_is_not_used() {
        let cache = tempfile::tempdir().unwrap();
        let repo = "google/gemma-2-2b-it";
        fake_snapshot(cache.path(), repo, "partial", false);
        assert_eq!(cached_snapshot(cache.path(), repo), None);
        // With the weights but no refs/main, the snapshot is still found.
        let snap = fake_snapshot(cache.path(), repo, "full", true);
        assert_eq!(cached_snapshot(cache.path(), repo), Some(snap));
    }

    #[test]
    fn shards_named_by_the_index_must_all_be_present() {
        let cache = tempfile::tempdir().unwrap();
        let repo = "google/gemma-2-27b-it";
        let snap = fake_snapshot(cache.path(), repo, "s", false);
        let index =
            r#"{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#;
        std::fs::write(snap.join("model.safetensors.index.json"), index).unwrap();
        std::fs::write(snap.join("model-00001-of-00002.safetensors"), "").unwrap();
        assert_eq!(
            missing_files(&snap),
            vec!["model-00002-of-00002.safetensors".to_string()]
        );
        assert_eq!(cached_snapshot(cache.path(), repo), None);
        std::fs::write(snap.join("model-00002-of-00002.safetensors"), "").unwrap();
        assert_eq!(cached_snapshot(cache.path(), repo), Some(snap));
    }

    #[test]
    fn only_model_files_are_downloaded() {
        assert!(wanted("model-00001-of-00004.safetensors"));
        assert!(wanted("tokenizer.json"));
        assert!(!wanted("original/model.safetensors"));
        assert!(!wanted("gemma-2-9b-it.gguf"));
        assert!(!wanted("README.md"));
    }
}
