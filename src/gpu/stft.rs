//! Host side of the batched gated STFT: tables, pipelines, chunking and readback. Per track (all
//! tracks of a batch go through the same pipelines and queue):
//! 1. `frame_power` over every frame, chunk by chunk → the frames' windowed powers (4 bytes each);
//! 2. the gate, on the host, exactly as the CPU path applies it;
//! 3. `stft_power` over the gated frames in groups of [`FRAMES_PER_GROUP`], then `reduce_groups`
//!    adds the groups in order → 3·(N/2 + 1) sums read back (≈ 100 KB at N = 16384).
//!
//! Chunks stay under the storage-binding limit; while the GPU works on one chunk the host is already
//! copying the next into the queue's staging memory.
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::shaders::{assemble, stft_constants, FRAME_POWER, REDUCE_GROUPS, STFT_POWER};
use super::GpuContext;
use crate::analysis::spectrum::{frame_starts, gated_frames, spectra_from_sums, GatedSpectra, StftSettings};
use crate::dsp::window::hann_periodic;
use crate::error::{Error, Result};

pub const FRAMES_PER_GROUP: u32 = 16;
/// Workgroups per dispatch row (WebGPU's limit on each dimension).
const MAX_ROW: u32 = 65_535;

/// Keep in sync with `struct Params` in shaders/shared/stft_frame.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct StftParams {
    pub len: u32,
    pub stereo: u32,
    pub frames: u32,
    pub hop: u32,
    pub groups: u32,
    pub row: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Keep in sync with `struct Params` in shaders/reduce_groups.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct ReduceParams {
    pub values: u32,
    pub groups: u32,
    pub accumulate: u32,
    pub _pad0: u32,
}

/// Hann window (periodic) and W_N^j = e^{−2πij/N}, j < N, computed in f64 and stored as f32.
pub fn tables(fft_size: usize) -> (Vec<f32>, Vec<[f32; 2]>) {
    let window = hann_periodic(fft_size).into_iter().map(|w| w as f32).collect();
    let twiddles = (0..fft_size)
        .map(|j| {
            let a = -2.0 * std::f64::consts::PI * j as f64 / fft_size as f64;
            [a.cos() as f32, a.sin() as f32]
        })
        .collect();
    (window, twiddles)
}

/// A mono or stereo track to analyse: planar channels at `sample_rate`, with its STFT settings
/// (the analysis uses [`StftSettings::for_rate`]).
pub struct Track<'a> {
    pub channels: &'a [&'a [f32]],
    pub sample_rate: u32,
    pub settings: StftSettings,
}

/// The pipelines and tables of one FFT size.
struct Stages {
    fft_size: usize,
    frame_power: wgpu::ComputePipeline,
    stft_power: wgpu::ComputePipeline,
    reduce: wgpu::ComputePipeline,
    window: wgpu::Buffer,
    twiddles: wgpu::Buffer,
}

fn dispatch_size(workgroups: u32) -> (u32, u32) {
    let x = workgroups.clamp(1, MAX_ROW);
    (x, workgroups.div_ceil(x).max(1))
}

impl GpuContext {
    fn pipeline(&self, label: &str, source: String) -> wgpu::ComputePipeline {
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        })
    }

    fn stages(&self, fft_size: usize) -> Result<Stages> {
        let need = (fft_size / 2 * 4) as u32;
        if need > self.limits.max_compute_workgroup_storage_size {
            return Err(Error::Gpu {
                reason: format!(
                    "{} offers {} bytes of workgroup memory; a {fft_size}-point FFT needs {need}",
                    self.info.name, self.limits.max_compute_workgroup_storage_size
                ),
            });
        }
        let c = stft_constants(fft_size);
        let (window, twiddles) = tables(fft_size);
        let storage = |label: &str, bytes: &[u8]| {
            self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytes, usage: wgpu::BufferUsages::STORAGE })
        };
        let stages = Stages {
            fft_size,
            frame_power: self.pipeline("frame_power", assemble(FRAME_POWER, &c)),
            stft_power: self.pipeline("stft_power", assemble(STFT_POWER, &c)),
            reduce: self.pipeline("reduce_groups", assemble(REDUCE_GROUPS, "")),
            window: storage("window", bytemuck::cast_slice(&window)),
            twiddles: storage("twiddles", bytemuck::cast_slice(&twiddles)),
        };
        self.check()?;
        Ok(stages)
    }

    /// Gated spectra of every track, identical in definition to
    /// [`crate::analysis::spectrum::gated_spectra`]. `max_chunk_frames` (tests) caps the samples
    /// per chunk below what the binding limit allows.
    pub fn gated_spectra(&self, tracks: &[Track], max_chunk_samples: Option<usize>) -> Result<Vec<GatedSpectra>> {
        let mut stages: Vec<Stages> = Vec::new();
        let mut out = Vec::with_capacity(tracks.len());
        for track in tracks {
            let settings = &track.settings;
            if !stages.iter().any(|s| s.fft_size == settings.fft_size) {
                stages.push(self.stages(settings.fft_size)?);
            }
            let stage = stages.iter().find(|s| s.fft_size == settings.fft_size).expect("just added");
            out.push(self.track_spectra(stage, track, settings, max_chunk_samples)?);
        }
        Ok(out)
    }

    fn read_back(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: (len * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, (len * 4) as u64);
        self.queue.submit([encoder.finish()]);
        let slice = staging.slice(..);
        slice.map_async(wgpu::MapMode::Read, |_| {});
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Gpu { reason: e.to_string() })?;
        self.check()?;
        let view = slice.get_mapped_range().map_err(|e| Error::Gpu { reason: e.to_string() })?;
        let values = bytemuck::cast_slice::<u8, f32>(&view).to_vec();
        drop(view);
        staging.unmap();
        Ok(values)
    }

    fn track_spectra(&self, stage: &Stages, track: &Track, settings: &StftSettings, max_chunk_samples: Option<usize>) -> Result<GatedSpectra> {
        let n = settings.fft_size;
        let hop = settings.hop;
        let len = track.channels[0].len();
        let n_ch = track.channels.len();
        let stereo = u32::from(n_ch == 2);
        let binding = self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size) as usize;
        // At least one group of frames laid end to end (see below), at most the whole track.
        let group_span = FRAMES_PER_GROUP as usize * n;
        let chunk_samples = (binding / 4 / n_ch).min(max_chunk_samples.unwrap_or(usize::MAX).max(group_span)).min(len.max(group_span));
        if chunk_samples < group_span {
            return Err(Error::Gpu { reason: format!("storage bindings of {binding} bytes cannot hold {FRAMES_PER_GROUP} {n}-point frames") });
        }
        let samples = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("samples"),
            size: (chunk_samples * n_ch * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        // Uploads channel c's samples [start, end) as the chunk's planar input; returns its length.
        let upload = |start: usize, end: usize| -> u32 {
            let end = end.min(len);
            for (c, ch) in track.channels.iter().enumerate() {
                if end > start {
                    self.queue.write_buffer(&samples, (c * (end - start) * 4) as u64, bytemuck::cast_slice(&ch[start..end]));
                }
            }
            (end.saturating_sub(start)) as u32
        };
        let uniform = |params: &[u8]| {
            self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some("params"), contents: params, usage: wgpu::BufferUsages::UNIFORM })
        };
        let bind = |pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]| {
            let entries: Vec<wgpu::BindGroupEntry> =
                buffers.iter().enumerate().map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() }).collect();
            self.device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &pipeline.get_bind_group_layout(0), entries: &entries })
        };
        let run = |pipeline: &wgpu::ComputePipeline, group: &wgpu::BindGroup, (x, y): (u32, u32)| {
            let mut encoder = self.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, group, &[]);
                pass.dispatch_workgroups(x, y, 1);
            }
            self.queue.submit([encoder.finish()]);
        };

        // 1. Frame powers, chunk by chunk.
        let starts = frame_starts(len, settings);
        let frames_per_chunk = (chunk_samples - n) / hop + 1;
        let power = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("power"),
            size: (starts.len() * 4) as u64,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        for first in (0..starts.len()).step_by(frames_per_chunk) {
            let frames = frames_per_chunk.min(starts.len() - first);
            let chunk_len = upload(starts[first], starts[first + frames - 1] + n);
            let (x, y) = dispatch_size(frames as u32);
            let params = StftParams { len: chunk_len, stereo, frames: frames as u32, hop: hop as u32, row: x, ..Default::default() };
            let out = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("chunk power"),
                size: (frames * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let group = bind(&stage.frame_power, &[&uniform(bytemuck::bytes_of(&params)), &samples, &stage.window, &out]);
            run(&stage.frame_power, &group, (x, y));
            let mut encoder = self.device.create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(&out, 0, &power, (first * 4) as u64, (frames * 4) as u64);
            self.queue.submit([encoder.finish()]);
        }
        let powers: Vec<f64> = self.read_back(&power, starts.len())?.into_iter().map(f64::from).collect();

        // 2. The gate.
        let used: Vec<usize> = gated_frames(&powers, settings.relative_gate_db).into_iter().map(|i| starts[i]).collect();

        // 3. Spectra of the gated frames, whole groups per chunk.
        let bins = n / 2 + 1;
        let values = 3 * bins;
        let totals = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("totals"),
            size: (values * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let group_size = FRAMES_PER_GROUP as usize;
        let mut first = 0;
        let mut chunk_index = 0u32;
        while first < used.len() {
            // As many whole groups as fit in a chunk (always at least one).
            let mut end = (first + group_size).min(used.len());
            while end < used.len() {
                let next = (end + group_size).min(used.len());
                if used[next - 1] + n - used[first] > chunk_samples {
                    break;
                }
                end = next;
            }
            let frames = end - first;
            let groups = frames.div_ceil(group_size);
            let (chunk_len, relative): (u32, Vec<u32>) = if used[end - 1] + n - used[first] <= chunk_samples {
                let chunk_start = used[first];
                (upload(chunk_start, used[end - 1] + n), used[first..end].iter().map(|&s| (s - chunk_start) as u32).collect())
            } else {
                // One group spread over more than a chunk (long gated-out stretches): its frames
                // are laid end to end instead, zero-padded past the track's end.
                let chunk_len = frames * n;
                for (c, ch) in track.channels.iter().enumerate() {
                    let mut laid = vec![0.0f32; chunk_len];
                    for (f, &s) in used[first..end].iter().enumerate() {
                        let avail = len.saturating_sub(s).min(n);
                        laid[f * n..f * n + avail].copy_from_slice(&ch[s..s + avail]);
                    }
                    self.queue.write_buffer(&samples, (c * chunk_len * 4) as u64, bytemuck::cast_slice(&laid));
                }
                (chunk_len as u32, (0..frames).map(|f| (f * n) as u32).collect())
            };
            let frame_buffer = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("frame starts"),
                contents: bytemuck::cast_slice(&relative),
                usage: wgpu::BufferUsages::STORAGE,
            });
            let partials = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("partials"),
                size: (groups * values * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            });
            let (x, y) = dispatch_size(groups as u32);
            let params = StftParams { len: chunk_len, stereo, frames: frames as u32, hop: hop as u32, groups: groups as u32, row: x, ..Default::default() };
            let group = bind(
                &stage.stft_power,
                &[&uniform(bytemuck::bytes_of(&params)), &samples, &frame_buffer, &stage.window, &stage.twiddles, &partials],
            );
            run(&stage.stft_power, &group, (x, y));
            let reduce = ReduceParams { values: values as u32, groups: groups as u32, accumulate: u32::from(chunk_index > 0), _pad0: 0 };
            let group = bind(&stage.reduce, &[&uniform(bytemuck::bytes_of(&reduce)), &partials, &totals]);
            run(&stage.reduce, &group, ((values as u32).div_ceil(64), 1));
            first = end;
            chunk_index += 1;
        }
        let sums = if used.is_empty() { vec![0.0f32; values] } else { self.read_back(&totals, values)? };
        let part = |a: usize| sums[a * bins..(a + 1) * bins].iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        let stereo_sums = if stereo == 1 { [part(0), part(1), part(2)] } else { [part(0), vec![0.0; bins], vec![0.0; bins]] };
        Ok(spectra_from_sums(stereo_sums, track.sample_rate, n, used.len(), starts.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs beyond 65535 workgroups use rows of at most 65535; the shaders index x + y·row, and
    /// skip the row's tail past the job (checked here by covering every index exactly once).
    #[test]
    fn dispatch_layout_covers_every_workgroup_once() {
        for n in [1u32, 7, 65_535, 65_536, 200_001] {
            let (x, y) = dispatch_size(n);
            assert!(x <= MAX_ROW && u64::from(x) * u64::from(y) >= u64::from(n));
            let covered = (0..y).flat_map(|j| (0..x).map(move |i| i + j * x)).filter(|&g| g < n).count();
            assert_eq!(covered as u32, n);
        }
    }
}
