//! Where the gated STFT runs: the GPU (batched, see `crate::gpu::stft`) or the CPU. A GPU that
//! fails mid-run — an adapter error, a lost device — costs a warning, not the run: the CPU path
//! then computes what the GPU did not deliver.
use super::spectrum::GatedSpectra;
use crate::audio::AudioBuffer;
use crate::error::Result;
use crate::gpu::stft::Track;
use crate::gpu::{DeviceChoice, GpuContext};
use crate::progress::Progress;

pub struct SpectrumDevice {
    gpu: Option<GpuContext>,
}

impl SpectrumDevice {
    /// Opens the GPU for `choice` (errors only for `gpu` without an adapter).
    pub fn new(choice: DeviceChoice) -> Result<Self> {
        Ok(SpectrumDevice { gpu: GpuContext::new(choice)? })
    }

    pub fn cpu() -> Self {
        SpectrumDevice { gpu: None }
    }

    pub fn describe(&self) -> String {
        self.gpu.as_ref().map_or_else(|| "CPU".into(), GpuContext::describe)
    }

    pub fn is_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// Gated spectra of every buffer from the GPU in one batch; `None`s (after a warning) when there
    /// is no GPU or it failed, for the CPU path to fill in.
    pub fn spectra(&self, buffers: &[&AudioBuffer], progress: &dyn Progress) -> Vec<Option<GatedSpectra>> {
        let Some(gpu) = &self.gpu else { return vec![None; buffers.len()] };
        let channels: Vec<Vec<&[f32]>> = buffers.iter().map(|b| b.channels.iter().map(Vec::as_slice).collect()).collect();
        let tracks: Vec<Track> = buffers.iter().zip(&channels).map(|(b, c)| Track { channels: c, sample_rate: b.sample_rate }).collect();
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
