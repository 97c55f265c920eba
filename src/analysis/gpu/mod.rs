//! The GPU analysis path (wgpu): adapter choice, and the batched gated STFT of `stft`. Every shader
//! in `shaders/` has a CPU port of the same name in [`cpu`], its test oracle.
pub mod cpu;
pub mod shaders;
pub mod stft;

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Which device analyses: `auto` takes a hardware GPU when there is one and the CPU otherwise (a
/// software rasteriser such as lavapipe is slower than realfft, so `auto` never picks it); `gpu`
/// takes any adapter, software included, and fails when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceChoice {
    #[default]
    Auto,
    Gpu,
    Cpu,
}

/// False only where a hardware GPU certainly is absent: on Linux, a GPU driver exposes a DRM render
/// node or NVIDIA's device files. Skipping the Vulkan probe there saves `auto` loading every
/// installed driver (~50 MB and ~0.1 s) just to find software adapters it would not use.
fn may_have_hardware_gpu() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let has = |dir: &str, prefix: &str| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| e.file_name().to_string_lossy().starts_with(prefix))
        })
    };
    has("/dev/dri", "renderD") || has("/dev", "nvidia")
}

pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// Errors the device reported outside any call that returned them (validation, device loss).
    errors: Arc<Mutex<Vec<String>>>,
}

impl GpuContext {
    /// The context for `choice`: `None` where the CPU path is to be used.
    pub fn new(choice: DeviceChoice) -> Result<Option<Self>> {
        if choice == DeviceChoice::Cpu || (choice == DeviceChoice::Auto && !may_have_hardware_gpu()) {
            return Ok(None);
        }
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        // Compute needs no display: Vulkan, Metal or DX12 unless WGPU_BACKEND says otherwise
        // (probing GL costs time and prints display errors on headless machines).
        desc.backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let backends = desc.backends;
        let instance = wgpu::Instance::new(desc);
        let adapters = pollster::block_on(instance.enumerate_adapters(backends));
        let rank = |a: &wgpu::Adapter| match a.get_info().device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        };
        let usable = |a: &&wgpu::Adapter| choice == DeviceChoice::Gpu || rank(a) < 4;
        let Some(adapter) = adapters.iter().filter(usable).min_by_key(|a| rank(a)) else {
            return match choice {
                DeviceChoice::Gpu => Err(Error::Gpu {
                    reason:
                        "no GPU adapter found (install a Vulkan driver, e.g. mesa-vulkan-drivers, or use --device cpu)"
                            .into(),
                }),
                _ => Ok(None),
            };
        };
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("automaster"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu { reason: format!("cannot open {}: {e}", adapter.get_info().name) })?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e| sink.lock().expect("error log").push(e.to_string())));
        Ok(Some(GpuContext { device, queue, info: adapter.get_info(), limits, errors }))
    }

    /// A short description of the adapter, for logs and benchmarks.
    pub fn describe(&self) -> String {
        format!("{} ({:?}, {:?})", self.info.name, self.info.device_type, self.info.backend)
    }

    /// Err with the first error the device reported since the last check.
    pub(crate) fn check(&self) -> Result<()> {
        let first = self.errors.lock().expect("error log").drain(..).next();
        match first {
            Some(e) => Err(Error::Gpu { reason: e }),
            None => Ok(()),
        }
    }
}
