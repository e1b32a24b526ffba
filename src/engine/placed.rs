//! The backend the app runs: mistral.rs here or a server, switchable at run time. A `Place`
//! command says where the next load runs; that load goes into a fresh backend while the
//! current one keeps its model, and only a load that succeeds replaces it. A server that
//! cannot be reached, or a local folder that will not load, leaves the model that was
//! answering (announced as `Loaded` again).

use super::load::LoadRequest;
use super::local::LocalBackend;
use super::protocol::{ChatRequest, EngineEvent, LoadedModel, Place};
use super::remote_backend::RemoteBackend;
use super::worker::{Backend, Cancel, ChatEnd, EngineEnv, Sink};

enum Current {
    Here(LocalBackend),
    Server(RemoteBackend),
}

impl Current {
    fn new(env: &EngineEnv, place: Place) -> Self {
        match place {
            Place::Here => Self::Here(LocalBackend::new(env.hub.clone(), env.quant_cache.clone())),
            Place::Server(config) => Self::Server(RemoteBackend::new(config)),
        }
    }

    fn place(&self) -> Place {
        match self {
            Self::Here(_) => Place::Here,
            Self::Server(remote) => Place::Server(remote.config().clone()),
        }
    }

    fn loaded(&self) -> Option<LoadedModel> {
        match self {
            Self::Here(b) => b.loaded(),
            Self::Server(b) => b.loaded(),
        }
    }

    async fn load(&mut self, request: LoadRequest, sink: &Sink) {
        match self {
            Self::Here(b) => Backend::load(b, request, sink).await,
            Self::Server(b) => b.load(request, sink).await,
        }
    }
}

pub struct PlacedBackend {
    env: EngineEnv,
    current: Current,
    /// Where the next load runs, when that is not where the current model runs.
    wanted: Option<Place>,
}

impl PlacedBackend {
    pub fn new(env: EngineEnv, place: Place) -> Self {
        let current = Current::new(&env, place);
        Self {
            env,
            current,
            wanted: None,
        }
    }
}

impl Backend for PlacedBackend {
    async fn load(&mut self, request: LoadRequest, sink: &Sink) {
        let Some(place) = self.wanted.take() else {
            return self.current.load(request, sink).await;
        };
        let mut fresh = Current::new(&self.env, place);
        fresh.load(request, sink).await;
        if fresh.loaded().is_some() {
            // The old model is dropped without an `Unloaded`: the new one is already announced.
            self.current = fresh;
        } else if let Some(kept) = self.current.loaded() {
            sink.emit(EngineEvent::Loaded(kept));
        }
    }

    fn unload(&mut self, sink: &Sink) {
        match &mut self.current {
            Current::Here(b) => b.unload(sink),
            Current::Server(b) => b.unload(sink),
        }
    }

    async fn chat(&mut self, request: ChatRequest, cancel: Cancel, sink: &Sink) -> ChatEnd {
        match &mut self.current {
            Current::Here(b) => b.chat(request, cancel, sink).await,
            Current::Server(b) => b.chat(request, cancel, sink).await,
        }
    }

    fn place(&mut self, place: Place, _sink: &Sink) {
        self.wanted = (place != self.current.place()).then_some(place);
    }

    fn loaded(&self) -> Option<LoadedModel> {
        self.current.loaded()
    }
}
