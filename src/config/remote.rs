//! The config's `[remote]` table: named OpenAI-compatible endpoints, and which one to chat
//! through (`use`, or `--remote NAME`). `--remote URL` needs no table at all. The API key is
//! never here: an endpoint names the environment variable that holds it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::remote::{RemoteConfig, ServerKind};
use crate::engine::{ModelSpec, Place};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteSection {
    /// The endpoint to chat through when `--remote` is not given; unset: the local model.
    #[serde(rename = "use")]
    pub use_endpoint: Option<String>,
    pub endpoints: BTreeMap<String, Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    pub url: String,
    /// The server's model name; unset: its only (or first) model.
    pub model: Option<String>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
    pub server: ServerKind,
    pub connect_timeout_s: f64,
    pub first_token_timeout_s: f64,
}

impl Default for Endpoint {
    fn default() -> Self {
        Self {
            url: String::new(),
            model: None,
            api_key_env: None,
            server: ServerKind::Auto,
            connect_timeout_s: RemoteConfig::DEFAULT_CONNECT_TIMEOUT.as_secs_f64(),
            first_token_timeout_s: RemoteConfig::DEFAULT_FIRST_TOKEN_TIMEOUT.as_secs_f64(),
        }
    }
}

fn seconds(name: &str, key: &str, value: f64) -> Result<Duration, String> {
    if value.is_finite() && value > 0.0 && value <= 3600.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!(
            "[remote.endpoints.{name}] {key} = {value}: must be more than 0 and at most 3600 seconds"
        ))
    }
}

impl RemoteSection {
    /// Checks every endpoint, so a bad one is named when the file is read.
    pub fn validate(&self) -> Result<(), String> {
        for name in self.endpoints.keys() {
            self.endpoint(name)?;
        }
        match &self.use_endpoint {
            Some(name) if !self.endpoints.contains_key(name) && !name.contains("://") => Err(self.unknown(name)),
            _ => Ok(()),
        }
    }

    /// Where `endpoint` (a configured name or a URL; `None`: here) runs the model, with the
    /// key's variable overridden by `--api-key-env` when given.
    pub fn place(&self, endpoint: Option<&str>, api_key_env: Option<&str>) -> Result<Place, String> {
        let Some(name) = endpoint else {
            return Ok(Place::Here);
        };
        let mut config = self.choose(Some(name))?.ok_or_else(|| self.unknown(name))?;
        if let Some(var) = api_key_env {
            config.api_key_env = Some(var.to_string());
        }
        Ok(Place::Server(config))
    }

    /// What the model `name` is on `endpoint` (`None`: here), and where that runs.
    pub fn model_at(
        &self,
        name: &str,
        endpoint: Option<&str>,
        api_key_env: Option<&str>,
    ) -> Result<(Place, ModelSpec), String> {
        let place = self.place(endpoint, api_key_env)?;
        let spec = match place {
            Place::Server(_) => ModelSpec::served(name),
            Place::Here => name
                .parse()
                .map_err(|e: crate::engine::source::SourceError| e.to_string())?,
        };
        Ok((place, spec))
    }

    /// The configured endpoint names, for the settings pane.
    pub fn names(&self) -> Vec<String> {
        self.endpoints.keys().cloned().collect()
    }

    /// The endpoint to chat through: `flag` (a configured name, or a URL) over `use`; `None`:
    /// run the model here.
    pub fn choose(&self, flag: Option<&str>) -> Result<Option<RemoteConfig>, String> {
        let Some(wanted) = flag.or(self.use_endpoint.as_deref()) else {
            return Ok(None);
        };
        if self.endpoints.contains_key(wanted) {
            return self.endpoint(wanted).map(Some);
        }
        if wanted.contains("://") {
            return Ok(Some(RemoteConfig::new("remote", wanted)));
        }
        Err(self.unknown(wanted))
    }

    fn endpoint(&self, name: &str) -> Result<RemoteConfig, String> {
        let e = self.endpoints.get(name).ok_or_else(|| self.unknown(name))?;
        if e.url.trim().is_empty() {
            return Err(format!(
                "[remote.endpoints.{name}] has no url: set url = \"http://host:port\""
            ));
        }
        let mut config = RemoteConfig::new(name, e.url.clone());
        config.model = e.model.clone().filter(|m| !m.trim().is_empty());
        config.api_key_env = e.api_key_env.clone().filter(|v| !v.trim().is_empty());
        config.server = e.server;
        config.connect_timeout = seconds(name, "connect_timeout_s", e.connect_timeout_s)?;
        config.first_token_timeout = seconds(name, "first_token_timeout_s", e.first_token_timeout_s)?;
        Ok(config)
    }

    fn unknown(&self, name: &str) -> String {
        let known: Vec<&str> = self.endpoints.keys().map(String::as_str).collect();
        let listed = if known.is_empty() {
            "there are none yet".to_string()
        } else {
            format!("the endpoints are {}", known.join(", "))
        };
        format!(
            "no remote endpoint `{name}` in [remote.endpoints] ({listed}); or pass a URL: --remote http://host:port"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const FILE: &str = r#"
[remote]
use = "gpu-box"

[remote.endpoints.gpu-box]
url = "http://gpu-box:8080"
model = "google/gemma-2-27b-it"
api_key_env = "GPU_BOX_KEY"
server = "vllm"
first_token_timeout_s = 300

[remote.endpoints.laptop]
url = "http://127.0.0.1:8081/v1"
"#;

    #[test]
    fn named_endpoints_are_read_and_chosen() {
        let config = Config::parse(FILE).unwrap();
        let chosen = config.remote.choose(None).unwrap().expect("use = gpu-box");
        assert_eq!(chosen.name, "gpu-box");
        assert_eq!(chosen.model.as_deref(), Some("google/gemma-2-27b-it"));
        assert_eq!(chosen.api_key_env.as_deref(), Some("GPU_BOX_KEY"));
        assert_eq!(chosen.server, ServerKind::Vllm);
        assert_eq!(chosen.first_token_timeout, Duration::from_secs(300));
        let laptop = config.remote.choose(Some("laptop")).unwrap().unwrap();
        assert_eq!(
            (laptop.base_url.as_str(), laptop.server),
            ("http://127.0.0.1:8081/v1", ServerKind::Auto)
        );
        let url = config.remote.choose(Some("http://elsewhere:9000")).unwrap().unwrap();
        assert_eq!(url.base_url, "http://elsewhere:9000");
        assert_eq!(
            Config::default().remote.choose(None),
            Ok(None),
            "no table: the model runs here"
        );
    }

    #[test]
    fn a_bad_endpoint_is_named_when_the_file_is_read() {
        let err = Config::parse("[remote]\nuse = \"nope\"\n").unwrap_err();
        assert!(err.contains("nope") && err.contains("there are none yet"), "{err}");
        let err = Config::parse("[remote.endpoints.box]\nmodel = \"m\"\n").unwrap_err();
        assert!(err.contains("[remote.endpoints.box] has no url"), "{err}");
        let err = Config::parse("[remote.endpoints.box]\nurl = \"http://b\"\nconnect_timeout_s = -1\n").unwrap_err();
        assert!(err.contains("connect_timeout_s"), "{err}");
        let err = Config::default().remote.choose(Some("gpu-box")).unwrap_err();
        assert!(err.contains("--remote http://host:port"), "{err}");
    }
}
