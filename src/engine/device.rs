//! Where a model runs: the one device enum that the flags, the config file, the settings pane
//! and the load request share. Written as `auto`, `cpu`, `cuda`, `cuda:N` or `metal`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The device the user asked for. `Auto` takes the GPU this build supports, else the CPU.
///
/// Not a clap `ValueEnum`: `cuda:N` carries a number, so flags parse it with [`FromStr`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    /// A CUDA GPU by ordinal (needs the `cuda` feature).
    Cuda(usize),
    /// Apple's GPU (needs the `metal` feature).
    Metal,
}

impl DeviceChoice {
    /// Why this build cannot use the device, if it cannot (a GPU it was not compiled for).
    pub fn missing_feature(self) -> Option<&'static str> {
        match self {
            Self::Cuda(_) if !cfg!(feature = "cuda") => Some("this build has no CUDA: build with --features cuda"),
            Self::Metal if !cfg!(feature = "metal") => Some("this build has no Metal: build with --features metal"),
            _ => None,
        }
    }

    /// The choices to offer on this build and machine: auto, cpu, and each GPU found.
    pub fn offered(gpus: usize) -> Vec<Self> {
        let mut all = vec![Self::Auto, Self::Cpu];
        if cfg!(feature = "metal") {
            all.push(Self::Metal);
        }
        all.extend((0..gpus).map(Self::Cuda));
        all
    }
}

/// How many CUDA devices this build can open (0 on a build without the `cuda` feature).
pub fn cuda_devices() -> usize {
    if !cfg!(feature = "cuda") {
        return 0;
    }
    (0..16).take_while(|&n| mistralrs::Device::new_cuda(n).is_ok()).count()
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::Metal => f.write_str("metal"),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "auto" => return Ok(Self::Auto),
            "cpu" => return Ok(Self::Cpu),
            "cuda" | "gpu" => return Ok(Self::Cuda(0)),
            "metal" => return Ok(Self::Metal),
            _ => {}
        }
        lower
            .strip_prefix("cuda:")
            .and_then(|n| n.parse().ok())
            .map(Self::Cuda)
            .ok_or_else(|| format!("unknown device `{s}`: use auto, cpu, cuda, cuda:N (N = 0, 1, ...) or metal"))
    }
}

impl TryFrom<String> for DeviceChoice {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<DeviceChoice> for String {
    fn from(d: DeviceChoice) -> Self {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choice_reads_back_what_it_writes() {
        for d in [
            DeviceChoice::Auto,
            DeviceChoice::Cpu,
            DeviceChoice::Cuda(0),
            DeviceChoice::Cuda(3),
            DeviceChoice::Metal,
        ] {
            assert_eq!(d.to_string().parse(), Ok(d));
        }
        assert_eq!("CUDA".parse(), Ok(DeviceChoice::Cuda(0)));
        let err = "tpu".parse::<DeviceChoice>().unwrap_err();
        assert!(err.contains("tpu") && err.contains("cuda:N"), "{err}");
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }
}
