//! Where the gated STFT runs: the GPU (batched, see `crate::analysis::gpu::stft`) or the CPU. A GPU that
//! fails mid-run — an adapter error, a lost device — costs a warning, not the run: the CPU path
//! then computes what the GPU did not deliver.
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use super::spectrum::{GatedSpectra, StftSettings};
use crate::analysis::gpu::stft::Track;
use crate::analysis::gpu::{DeviceChoice, GpuContext};
use crate::audio::AudioBuffer;
use crate::error::Result;
use crate::progress::Progress;

pub struct SpectrumDevice {
    /// `auto` looks for a GPU on a thread of its own (loading Vulkan drivers takes ~0.1 s), so the
    /// search overlaps decoding; the first use waits for it.
    opening: Mutex<Option<JoinHandle<Option<GpuContext>>>>,
    gpu: OnceLock<Option<GpuContext>>,
}

impl SpectrumDevice {
    /// Opens the GPU for `choice`: `gpu` at once (an error without an adapter), `auto` in the
    /// background (no GPU, or a failure to open one, means the CPU).
    pub fn new(choice: DeviceChoice) -> Result<Self> {
        let device = SpectrumDevice { opening: Mutex::new(None), gpu: OnceLock::new() };
        match choice {
            DeviceChoice::Cpu => drop(device.gpu.set(None)),
            DeviceChoice::Gpu => drop(device.gpu.set(GpuContext::new(choice)?)),
            DeviceChoice::Auto => {
                *device.opening.lock().expect("device lock") =
                    Some(std::thread::spawn(|| GpuContext::new(DeviceChoice::Auto).ok().flatten()));
            }
        }
        Ok(device)
    }

    pub fn cpu() -> Self {
        SpectrumDevice { opening: Mutex::new(None), gpu: OnceLock::from(None) }
    }

    fn gpu(&self) -> Option<&GpuContext> {
        self.gpu
            .get_or_init(|| {
                let handle = self.opening.lock().expect("device lock").take();
                handle.and_then(|h| h.join().ok().flatten())
            })
            .as_ref()
    }

    /// Whether the gated spectra go to a GPU (waits for `auto`'s search).
    pub fn has_gpu(&self) -> bool {
        self.gpu().is_some()
    }

    /// "CPU", or the GPU adapter's name and kind.
    pub fn describe(&self) -> String {
        self.gpu().map_or_else(|| "CPU".into(), GpuContext::describe)
    }

    /// Gated spectra of every buffer from the GPU in one batch; `None`s (after a warning) when there
    /// is no GPU or it failed, for the CPU path to fill in.
    pub fn spectra(&self, buffers: &[&AudioBuffer], progress: &dyn Progress) -> Vec<Option<GatedSpectra>> {
        let Some(gpu) = self.gpu() else { return vec![None; buffers.len()] };
        let channels: Vec<Vec<&[f32]>> =
            buffers.iter().map(|b| b.channels.iter().map(Vec::as_slice).collect()).collect();
        let tracks: Vec<Track> = buffers
            .iter()
            .zip(&channels)
            .map(|(b, c)| Track {
                channels: c,
                sample_rate: b.sample_rate,
                settings: StftSettings::for_rate(b.sample_rate),
            })
            .collect();
        let task = progress.start(&format!("GPU spectra of {} tracks", tracks.len()), 0);
        let result = gpu.gated_spectra(&tracks, None);
        drop(task);
        match result {
            Ok(spectra) => spectra.into_iter().map(Some).collect(),
            Err(e) => {
                progress.warn(&format!("{e}; analysing on the CPU instead"));
                vec![None; buffers.len()]
            }
        }
    }
}
