//! What a server says about itself on `GET /v1/models` (and llama.cpp's `/props`): which
//! server it is, which model to use, how large its context is; and the base URL checked.

use serde::Deserialize;

use super::{RemoteClient, RemoteConfig, RemoteError, ServerKind};

#[derive(Debug, Deserialize)]
pub(super) struct ModelsJson {
    #[serde(default)]
    pub(super) data: Vec<ModelEntry>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ModelEntry {
    pub(super) id: String,
    #[serde(default)]
    pub(super) owned_by: Option<String>,
    /// vLLM's context size.
    #[serde(default)]
    pub(super) max_model_len: Option<usize>,
    /// mistral.rs lists each model's status ("loaded", ...).
    #[serde(default)]
    pub(super) status: Option<String>,
}

/// What `GET /v1/models` said.
pub(super) struct Listing {
    pub(super) entries: Vec<ModelEntry>,
    pub(super) server_header: Option<String>,
}

impl RemoteClient {
    pub(super) async fn list(&self) -> Result<Listing, RemoteError> {
        let url = format!("{}/v1/models", self.root);
        let reply = self.call(self.http.get(&url), &url).await?;
        if reply.status == reqwest::StatusCode::NOT_FOUND {
            return Err(RemoteError::NotOpenAi {
                endpoint: self.name(),
                url,
                status: 404,
            });
        }
        let models: ModelsJson = serde_json::from_str(&reply.text).map_err(|e| RemoteError::BadResponse {
            endpoint: self.name(),
            detail: format!("GET /v1/models: {e}"),
        })?;
        let server_header = reply
            .headers
            .get(reqwest::header::SERVER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Listing {
            entries: models.data,
            server_header,
        })
    }

    /// llama.cpp's `GET /props`; `None` where the server has none.
    pub(super) async fn props(&self) -> Option<serde_json::Value> {
        let url = format!("{}/props", self.root);
        let reply = self.call(self.http.get(&url), &url).await.ok()?;
        let v = reply.json()?;
        v.get("default_generation_settings").is_some().then_some(v)
    }
}

/// The base URL without `/v1` or a trailing slash, checked to be http(s) with a host.
pub(super) fn normalize_base(config: &RemoteConfig) -> Result<(String, reqwest::Url), RemoteError> {
    let bad = || RemoteError::BadUrl {
        endpoint: config.name.clone(),
        url: config.base_url.clone(),
    };
    let mut root = config.base_url.trim().trim_end_matches('/').to_string();
    if let Some(stripped) = root.strip_suffix("/v1") {
        root = stripped.trim_end_matches('/').to_string();
    }
    let url = reqwest::Url::parse(&root).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok((root, url))
}

/// The server kind, from what `/v1/models` says; `None` if it does not tell.
pub(super) fn detect(listing: &Listing) -> Option<ServerKind> {
    let owners: Vec<&str> = listing.entries.iter().filter_map(|m| m.owned_by.as_deref()).collect();
    if owners.contains(&"vllm") {
        return Some(ServerKind::Vllm);
    }
    if owners.contains(&"llamacpp") {
        return Some(ServerKind::LlamaCpp);
    }
    let server = listing.server_header.as_deref().unwrap_or_default().to_lowercase();
    if server.contains("llama.cpp") {
        return Some(ServerKind::LlamaCpp);
    }
    // mistral.rs lists a synthetic "default" model first, then each model with its status.
    let mistral_default = listing
        .entries
        .iter()
        .any(|m| m.id == "default" && m.owned_by.as_deref() == Some("local"));
    if mistral_default || listing.entries.iter().any(|m| m.status.is_some()) {
        return Some(ServerKind::MistralRs);
    }
    if owners
        .iter()
        .any(|o| matches!(*o, "openai" | "system" | "openai-internal"))
    {
        return Some(ServerKind::OpenAi);
    }
    None
}

pub(super) fn choose_model(
    config: &RemoteConfig,
    kind: ServerKind,
    entries: &[ModelEntry],
) -> Result<String, RemoteError> {
    let ids: Vec<String> = entries.iter().map(|m| m.id.clone()).collect();
    if let Some(wanted) = &config.model {
        if ids.iter().any(|id| id == wanted) {
            return Ok(wanted.clone());
        }
        return Err(RemoteError::ModelNotFound {
            endpoint: config.name.clone(),
            model: wanted.clone(),
            available: ids,
        });
    }
    // mistral.rs's "default" is an alias; name the real model where there is one.
    let real = |id: &&String| !(kind == ServerKind::MistralRs && id.as_str() == "default");
    ids.iter()
        .find(real)
        .or_else(|| ids.first())
        .cloned()
        .ok_or_else(|| RemoteError::NoModels {
            endpoint: config.name.clone(),
        })
}

/// llama.cpp's context size from `/props` (newer builds nest it, older ones had it on top).
pub(super) fn n_ctx(props: &serde_json::Value) -> Option<usize> {
    props
        .pointer("/default_generation_settings/n_ctx")
        .or_else(|| props.get("n_ctx"))
        .and_then(|v| v.as_u64())
        .map(|v| v as usize)
}
