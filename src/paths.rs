//! Where gemma-tui keeps its files: config, data (sessions), state (logs), cache.
//! Platform directories come from `directories`; `GEMMA_TUI_*_DIR` variables override each one
//! (tests and portable installs use them).

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub state_dir: PathBuf,
    /// Files that can be made again (quantized weights).
    pub cache_dir: PathBuf,
}

impl Paths {
    pub fn from_env() -> Self {
        let dirs = directories::ProjectDirs::from("", "", "gemma-tui");
        let fallback = || std::env::temp_dir().join("gemma-tui");
        let pick = |var: &str, platform: Option<PathBuf>| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or(platform)
                .unwrap_or_else(fallback)
        };
        Self {
            config_dir: pick(
                "GEMMA_TUI_CONFIG_DIR",
                dirs.as_ref().map(|d| d.config_dir().to_path_buf()),
            ),
            data_dir: pick("GEMMA_TUI_DATA_DIR", dirs.as_ref().map(|d| d.data_dir().to_path_buf())),
            state_dir: pick(
                "GEMMA_TUI_STATE_DIR",
                dirs.as_ref()
                    .map(|d| d.state_dir().unwrap_or_else(|| d.data_local_dir()).to_path_buf()),
            ),
            cache_dir: pick(
                "GEMMA_TUI_CACHE_DIR",
                dirs.as_ref().map(|d| d.cache_dir().to_path_buf()),
            ),
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// The session database (see `store`).
    pub fn sessions_db(&self) -> PathBuf {
        self.data_dir.join("sessions.db")
    }

    /// Quantized weights kept between starts (see `engine::quant_cache`).
    pub fn quant_cache(&self) -> PathBuf {
        self.cache_dir.join("quantized")
    }

    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("gemma-tui.log")
    }
}
