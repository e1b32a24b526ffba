//! Loading a model: resolve the source to a folder, inspect it, check memory, and build the
//! mistral.rs pipeline off the async runtime with its panics caught.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mistralrs::{Device, ModelBuilder, ModelDType, TokenSource};
use tokenizers::Tokenizer;
use tokio::sync::mpsc::UnboundedSender;

use super::device::DeviceChoice;
use super::memory;
use super::model_dir::{self, ModelDir, ModelDirError, ModelFamily};
use super::model_spec::ModelSpec;
use super::prefix_budget::PrefixBudget;
use super::protocol::{LoadProgress, LoadedModel};
use super::quant_cache::{self, lm_head};
use super::quantization::Quantization;
use super::source::{self, HubEnv, SourceError};
use crate::panic_hook::{panic_message, QuietSection};

/// What to load and how: the engine's `Load` command carries one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRequest {
    pub spec: ModelSpec,
    pub device: DeviceChoice,
    pub quantization: Quantization,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    ModelDir(#[from] ModelDirError),
    #[error(
        "not enough memory for {model}: it needs about {needed_gib:.1} GiB, {available_gib:.1} GiB are available; \
         {instead}"
    )]
    OutOfMemory {
        model: String,
        needed_gib: f64,
        available_gib: f64,
        /// What would fit instead.
        instead: String,
    },
    #[error("cannot use the device {device}: {detail}")]
    Device { device: DeviceChoice, detail: String },
    #[error("mistral.rs could not load {dir}: {detail}")]
    Engine { dir: PathBuf, detail: String },
}

/// A loaded model and what the worker needs beside it.
pub struct LoadedEngine {
    pub model: mistralrs::Model,
    pub tokenizer: Arc<Tokenizer>,
    pub info: LoadedModel,
    /// `<end_of_turn>` first (forced to end an answer), then `<eos>`.
    pub stop_ids: Vec<u32>,
    /// On a CPU with the prefix cache on: what it holds, against what it may (see `prefix_budget`).
    pub prefix_budget: Option<PrefixBudget>,
}

/// A model whose files were found and checked, ready to build. Preparing touches nothing
/// loaded, so a folder that is not a model is refused while the current model keeps answering.
pub struct Prepared {
    name: String,
    dir: PathBuf,
    inspected: ModelDir,
    device: Device,
    quantization: Quantization,
    tokenizer: Tokenizer,
    stop_ids: Vec<u32>,
}

/// Finds the files (cache, folder or download), inspects them, opens the tokenizer and the
/// device. Everything here can fail without costing the model that is loaded now.
pub async fn prepare(
    request: &LoadRequest,
    hub: &HubEnv,
    progress: &UnboundedSender<LoadProgress>,
) -> Result<Prepared, LoadError> {
    let name = request.spec.display_name();
    let _ = progress.send(LoadProgress::Resolving { model: name.clone() });
    let dir = resolve(&request.spec, hub, progress).await?;
    let inspected = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || model_dir::inspect(&dir)
    })
    .await
    .map_err(|e| LoadError::Engine {
        dir: dir.clone(),
        detail: e.to_string(),
    })??;
    let device = pick_device(request.device)?;
    let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| {
        LoadError::ModelDir(ModelDirError::Corrupt {
            file: dir.join("tokenizer.json"),
            reason: e.to_string(),
        })
    })?;
    let stop_ids: Vec<u32> = ["<end_of_turn>", "<eos>"]
        .iter()
        .filter_map(|t| tokenizer.token_to_id(t))
        .collect();
    if stop_ids.is_empty() {
        return Err(ModelDirError::Corrupt {
            file: dir.join("tokenizer.json"),
            reason: "no <end_of_turn> or <eos> token".into(),
        }
        .into());
    }
    check_chat_format(&dir, &inspected, &tokenizer)?;
    Ok(Prepared {
        name,
        dir,
        inspected,
        device,
        quantization: request.quantization,
        tokenizer,
        stop_ids,
    })
}

/// Gemma's turns are marked by two control tokens; a tokenizer without them (a base model's, or
/// another family's) would read the marks as plain text and the answer would never end its turn.
/// The folder's chat template must render, or every message would fail with a Jinja error.
fn check_chat_format(dir: &Path, inspected: &ModelDir, tokenizer: &Tokenizer) -> Result<(), LoadError> {
    let lacking: Vec<&str> = ["<start_of_turn>", "<end_of_turn>"]
        .into_iter()
        .filter(|t| tokenizer.token_to_id(t).is_none())
        .collect();
    if !lacking.is_empty() {
        return Err(ModelDirError::NotAChat {
            file: dir.join("tokenizer.json"),
            reason: format!(
                "it lacks Gemma's control token{} {}, so it cannot mark chat turns; use an instruction-tuned \
                 Gemma folder",
                if lacking.len() > 1 { "s" } else { "" },
                lacking.join(" and ")
            ),
        }
        .into());
    }
    if let Some(template) = &inspected.chat_template {
        super::template_check::render_sample(template).map_err(|why| ModelDirError::NotAChat {
            file: dir.join("tokenizer_config.json"),
            reason: format!("its chat template does not render ({why}); restore the file or pass a working one"),
        })?;
    }
    Ok(())
}

/// Builds the mistral.rs pipeline of a prepared model. Call it with nothing else loaded: the
/// memory check counts what is free now.
pub async fn build_prepared(
    prepared: Prepared,
    cache_root: Option<PathBuf>,
    progress: &UnboundedSender<LoadProgress>,
) -> Result<LoadedEngine, LoadError> {
    let Prepared {
        name,
        dir,
        inspected,
        device,
        quantization,
        tokenizer,
        stop_ids,
    } = prepared;
    let dtype = if device.is_cpu() {
        ModelDType::F32
    } else {
        ModelDType::Auto
    };
    if device.is_cpu() {
        check_memory(&name, &inspected, quantization)?;
    }
    let _ = progress.send(LoadProgress::Loading { model: name.clone() });
    let template = single_bos_template(&inspected, &tokenizer).map_err(|detail| LoadError::Engine {
        dir: dir.clone(),
        detail,
    })?;
    let cache = cache_root
        .filter(|_| uses_cache(&device, inspected.family))
        .and_then(|root| quant_cache::entry(&root, &dir, &inspected.weight_files, quantization, &describe(&device)));
    let plan = BuildPlan {
        dir: &dir,
        weight_files: &inspected.weight_files,
        device: device.clone(),
        dtype,
        quantization,
        template: template.as_deref(),
    };
    let model = build_cached(plan, cache).await;
    if let Some(path) = template {
        let _ = std::fs::remove_file(path);
    }
    let (model, from_cache) = model?;

    let info = LoadedModel {
        name,
        dir: Some(dir),
        family: inspected.family,
        usable_context: inspected.usable_context,
        dtype: if device.is_cpu() {
            "f32".into()
        } else {
            "auto (bf16 where supported)".into()
        },
        device: describe(&device),
        quantization: (!quantization.is_none()).then(|| quantization.to_string()),
        from_cache,
        ignored_settings: Vec::new(),
    };
    let prefix_budget = cpu_prefix_budget(&device, &info);
    Ok(LoadedEngine {
        model,
        tokenizer: Arc::new(tokenizer),
        info,
        stop_ids,
        prefix_budget,
    })
}

/// A folder for `spec`: the folder itself, a complete cached snapshot, or a fresh download.
async fn resolve(
    spec: &ModelSpec,
    hub: &HubEnv,
    progress: &UnboundedSender<LoadProgress>,
) -> Result<PathBuf, LoadError> {
    match spec {
        ModelSpec::Dir(dir) => Ok(dir.clone()),
        ModelSpec::Repo(repo) => match source::cached_snapshot(&hub.cache_dir(), repo) {
            Some(dir) => Ok(dir),
            None => Ok(source::download(repo, hub, progress).await?),
        },
        ModelSpec::Served(name) => Err(LoadError::Source(SourceError::ServedName(
            name.clone().unwrap_or_else(|| "the server's model".into()),
        ))),
    }
}

/// A GPU this build was not compiled for fails here with a line saying which feature it needs.
fn pick_device(choice: DeviceChoice) -> Result<Device, LoadError> {
    let failed = |e: String, feature: &str| LoadError::Device {
        device: choice,
        detail: format!("{e} (a build with `--features {feature}` and the device present is needed)"),
    };
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(mistralrs::best_device(false).unwrap_or(Device::Cpu)),
        DeviceChoice::Cuda(n) => Device::new_cuda(n).map_err(|e| failed(e.to_string(), "cuda")),
        DeviceChoice::Metal => Device::new_metal(0).map_err(|e| failed(e.to_string(), "metal")),
    }
}

fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        other => format!("{:?}", other.location()).to_lowercase(),
    }
}

/// Refuses a CPU load that the planner says cannot fit in free RAM, naming the quantization
/// that would; refusing early beats the kernel's OOM killer. On the CPU the weights are widened
/// to f32 (0.8.1 has no bf16 matmul there). Without a readable shape, the checkpoint's size on
/// disk (doubled for a bf16 checkpoint left unquantized) is the estimate.
fn check_memory(name: &str, dir: &ModelDir, quantization: Quantization) -> Result<(), LoadError> {
    let free = memory::free_ram_bytes() as f64;
    if free <= 0.0 {
        return Ok(()); // unknown: do not guess a refusal
    }
    let shape = memory::ModelShape::of_folder(&dir.path).ok();
    let needed = match &shape {
        Some(shape) => memory::estimate(shape, quantization, 4).total(),
        None => {
            let widen = match (quantization.is_none(), dir.weight_dtype.as_str()) {
                (true, "BF16" | "F16") => 2.0,
                _ => 1.0,
            };
            dir.weight_bytes as f64 * widen * 1.1
        }
    };
    if needed <= free {
        return Ok(());
    }
    let instead = shape
        .and_then(|shape| memory::fitting_quantizations(&shape, 4, free).into_iter().next())
        .map_or_else(
            || "pick a smaller model (gemma-2-2b)".to_string(),
            |q| {
                format!(
                    "quantize it (--quantize {}, or Quantization in the settings pane)",
                    q.config_name()
                )
            },
        );
    const GIB: f64 = (1u64 << 30) as f64;
    Err(LoadError::OutOfMemory {
        model: name.to_string(),
        needed_gib: needed / GIB,
        available_gib: free / GIB,
        instead,
    })
}

/// Gemma's template writes `{{ bos_token }}` and the tokenizer's post-processor adds `<bos>`
/// again: mistral.rs 0.8.1 would feed the model two. transformers tokenizes the rendered
/// template without special tokens, so one. The same template minus `{{ bos_token }}`, handed to
/// mistral.rs as an explicit Jinja file, restores transformers' exact prompt.
fn single_bos_template(dir: &ModelDir, tokenizer: &Tokenizer) -> Result<Option<PathBuf>, String> {
    let Some(template) = &dir.chat_template else {
        return Ok(None);
    };
    let adds_bos = match (tokenizer.encode("x", true), tokenizer.encode("x", false)) {
        (Ok(with), Ok(without)) => with.get_ids().len() > without.get_ids().len(),
        _ => false,
    };
    let stripped = template
        .replacen("{{ bos_token }}", "", 1)
        .replacen("{{bos_token}}", "", 1);
    if !adds_bos || stripped == *template {
        return Ok(None);
    }
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("gemma-tui-{}-{n}.jinja", std::process::id()));
    std::fs::write(&path, stripped).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Some(path))
}

/// How the pipeline is built: the engine's knobs beside the model folder.
#[derive(Clone)]
struct BuildPlan<'a> {
    dir: &'a Path,
    /// The checkpoint's weight files (the output layer is read from them for the cache).
    weight_files: &'a [PathBuf],
    device: Device,
    dtype: ModelDType,
    quantization: Quantization,
    template: Option<&'a Path>,
}

/// Builds through the quantization cache when there is one for this load: reads a ready entry
/// (an entry mistral.rs cannot load is removed, then rebuilt), else quantizes and writes one.
/// Returns the model and whether it came from the cache.
async fn build_cached(
    plan: BuildPlan<'_>,
    cache: Option<quant_cache::Entry>,
) -> Result<(mistralrs::Model, bool), LoadError> {
    let Some(entry) = cache else {
        return Ok((build(plan, None).await?, false));
    };
    if entry.is_ready() {
        match build_from_uqff(&plan, &entry).await {
            Ok(model) => {
                tracing::info!(entry = %entry.dir.display(), "loaded the quantized weights from the cache");
                return Ok((model, true));
            }
            Err(e) => {
                tracing::warn!(entry = %entry.dir.display(), "the cached quantized weights did not load, quantizing again: {e}")
            }
        }
    }
    entry.clear();
    entry.prune_stale();
    let target = entry.target();
    let built = match build(plan.clone(), Some(target)).await {
        Ok(model) => model,
        Err(e) => {
            entry.clear();
            return Err(e);
        }
    };
    let Some(ty) = plan
        .device
        .is_cpu()
        .then(|| lm_head::lm_head_type(plan.quantization))
        .flatten()
    else {
        commit(&entry);
        return Ok((built, false));
    };
    // The output layer is quantized into the entry, then the model is read back from it, so
    // this session already decodes with it (the built one would keep the f32 layer).
    drop(built);
    let (uqff, weights) = (entry.first_shard(), plan.weight_files.to_vec());
    let quantized = tokio::task::spawn_blocking(move || lm_head::quantize_into(&uqff, &weights, ty)).await;
    match quantized {
        Ok(Ok(())) => tracing::info!("quantized the output layer into the cache entry as {ty:?}"),
        Ok(Err(e)) => tracing::warn!("the output layer stays f32: {e}"),
        Err(e) => tracing::warn!("the output layer stays f32: {e}"),
    }
    commit(&entry);
    match build_from_uqff(&plan, &entry).await {
        Ok(model) => Ok((model, false)),
        Err(e) => {
            tracing::warn!(entry = %entry.dir.display(), "the new cache entry did not load, quantizing without it: {e}");
            entry.clear();
            Ok((build(plan, None).await?, false))
        }
    }
}

fn commit(entry: &quant_cache::Entry) {
    if let Err(e) = entry.commit() {
        tracing::warn!(entry = %entry.dir.display(), "cannot finish the quantization cache entry: {e}");
    }
}

/// `ModelBuilder::build` (quantizing, and writing the quantized weights to `write_uqff`).
async fn build(plan: BuildPlan<'_>, write_uqff: Option<PathBuf>) -> Result<mistralrs::Model, LoadError> {
    let prefix_cache = prefix_cache_n();
    // Auto-detecting builder: it honours the device and also loads Gemma 3 text checkpoints.
    let mut builder = ModelBuilder::new(plan.dir.to_string_lossy())
        .with_token_source(TokenSource::None)
        .with_dtype(plan.dtype)
        .with_device(plan.device.clone())
        .with_max_num_seqs(1)
        // The prefix cache: a turn re-reads only what is new since the last answer. It hides the
        // cached prompt tokens from the sampler's first step, so the penalties are ours (see
        // `observer`), applied over the whole prompt as transformers does.
        .with_prefix_cache_n(prefix_cache);
    if let Some(path) = plan.template {
        builder = builder.with_jinja_explicit(path.to_string_lossy().into_owned());
    }
    if let Some(isq) = plan.quantization.isq_type() {
        builder = builder.with_isq(isq);
    }
    if let Some(target) = write_uqff {
        builder = builder.write_uqff(target);
    }
    finish_build(plan.dir, move |handle| handle.block_on(builder.build())).await
}

/// Reads a cache entry. Only `TextModelBuilder` takes UQFF in mistral.rs 0.8.1, and it picks
/// the device itself (the CPU when forced, else the first GPU), so `uses_cache` keeps other
/// devices away from here.
async fn build_from_uqff(plan: &BuildPlan<'_>, entry: &quant_cache::Entry) -> Result<mistralrs::Model, LoadError> {
    let mut builder = mistralrs::UqffTextModelBuilder::new(entry.dir.to_string_lossy(), vec![entry.first_shard()])
        .into_inner()
        .with_token_source(TokenSource::None)
        .with_dtype(plan.dtype)
        .with_max_num_seqs(1)
        .with_prefix_cache_n(prefix_cache_n());
    if plan.device.is_cpu() {
        builder = builder.with_force_cpu();
    }
    if let Some(path) = plan.template {
        builder = builder.with_jinja_explicit(path.to_string_lossy().into_owned());
    }
    finish_build(&entry.dir, move |handle| handle.block_on(builder.build())).await
}

/// Whether loads on `device` of a `family` model can go through the quantization cache.
fn uses_cache(device: &Device, family: ModelFamily) -> bool {
    let default_gpu = mistralrs::best_device(false).is_ok_and(|best| best.same_device(device));
    family == ModelFamily::Gemma2 && (device.is_cpu() || default_gpu)
}

/// mistral.rs's `build` blocks for long and may panic on malformed files: it runs on a
/// blocking thread, quietly, and a panic becomes an error.
async fn finish_build(
    dir: &Path,
    job: impl FnOnce(&tokio::runtime::Handle) -> anyhow::Result<mistralrs::Model> + Send + 'static,
) -> Result<mistralrs::Model, LoadError> {
    let handle = tokio::runtime::Handle::current();
    // candle appends its backtrace to the message when RUST_BACKTRACE is set: the reason is the
    // first line, and the user gets one.
    let engine_error = |detail: String| LoadError::Engine {
        dir: dir.to_path_buf(),
        detail: detail.lines().next().unwrap_or_default().trim_end().to_string(),
    };
    let joined = tokio::task::spawn_blocking(move || {
        let _quiet = QuietSection::enter();
        job(&handle)
    })
    .await;
    match joined {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(e)) => Err(engine_error(format!("{e:#}"))),
        Err(join) if join.is_panic() => Err(engine_error(format!(
            "it crashed: {}",
            panic_message(join.into_panic().as_ref())
        ))),
        Err(join) => Err(engine_error(join.to_string())),
    }
}

/// Sequences the prefix cache keeps. It is on everywhere unless `GEMMA_TUI_PREFIX_CACHE=off`:
/// a turn then re-reads only what is new since the last answer, and the penalties still see the
/// whole prompt (see `observer`). On a GPU mistral.rs evicts past this number; on a CPU it
/// never evicts, so there a [`PrefixBudget`] empties the cache when it grows too large.
fn prefix_cache_n() -> Option<usize> {
    match std::env::var("GEMMA_TUI_PREFIX_CACHE").as_deref() {
        Ok("off" | "0") => None,
        _ => Some(2),
    }
}

/// The CPU prefix cache's budget: `GEMMA_TUI_PREFIX_CACHE_MB` megabytes if set, else a quarter
/// of the RAM free with the model loaded (at most 4 GiB). `None` off the CPU, with the cache
/// off, or when the folder's shape cannot be read (then the cache is not bounded: say so).
fn cpu_prefix_budget(device: &Device, info: &LoadedModel) -> Option<PrefixBudget> {
    if !device.is_cpu() || prefix_cache_n().is_none() {
        return None;
    }
    let shape = match info.dir.as_deref().map(memory::ModelShape::of_folder) {
        Some(Ok(shape)) => shape,
        _ => {
            tracing::warn!("no model shape: the CPU prefix cache is not bounded");
            return None;
        }
    };
    let budget = match std::env::var("GEMMA_TUI_PREFIX_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(mb) => PrefixBudget::with_limit(&shape, mb << 20),
        None => PrefixBudget::new(&shape, memory::free_ram_bytes()),
    };
    tracing::info!(limit = budget.limit(), "CPU prefix cache budget");
    Some(budget)
}

/// The family tells the prompt rules whether Gemma 2's turn shaping applies.
pub fn uses_gemma2_rules(family: ModelFamily) -> bool {
    family == ModelFamily::Gemma2
}
