//! The engine: Gemma through mistral.rs behind a message protocol. Only this module names
//! mistral.rs types; everything else speaks [`EngineCommand`] and [`EngineEvent`].

pub mod detok;
pub mod device;
pub mod fake;
pub mod load;
pub mod local;
pub mod memory;
pub mod model_dir;
pub mod model_spec;
pub mod observer;
pub mod placed;
pub mod prefix_budget;
pub mod prompt;
pub mod protocol;
pub mod quant_cache;
pub mod quantization;
pub mod remote;
pub mod remote_backend;
pub mod sampling;
pub mod source;
pub mod template_check;
pub mod token_clock;
pub mod worker;

pub use device::DeviceChoice;
pub use load::LoadRequest;
pub use model_spec::ModelSpec;
pub use prompt::{ChatMessage, Role};
pub use protocol::{
    ChatRequest, EngineCommand, EngineEvent, FinishReason, GenId, LoadProgress, LoadedModel, Place, TokenTranscript,
    Usage,
};
pub use quantization::Quantization;
pub use sampling::{SamplingField, SamplingSettings};
pub use worker::{spawn, spawn_backend, start, Backend, Cancel, ChatEnd, EngineEnv, EngineHandle, Sink};
