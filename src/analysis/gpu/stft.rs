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
use crate::analysis::spectrum::{
    band_power_scale, dynamics_band_bins, frame_starts, gated_frames, spectra_from_sums, GatedSpectra, StftSettings,
};
use crate::dsp::window::hann_periodic;
use crate::error::{Error, Result};

pub const FRAMES_PER_GROUP: u32 = 16;
/// Keep in sync with `MAX_BANDS` in shaders/stft_power.wgsl.
pub const MAX_BANDS: u32 = 4;
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
    /// frame_power: index of the chunk's first frame in the output; stft_power: row of the chunk's
    /// first gated frame in `band_power`.
    pub first: u32,
    /// stft_power: dynamics bands (≤ [`MAX_BANDS`]).
    pub bands: u32,
}

/// Keep in sync with `struct Params` in shaders/reduce_groups.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub struct ReduceParams {
    pub values: u32,
    pub groups: u32,
    pub accumulate: u32,
    /// Where this track's totals start in the output.
    pub offset: u32,
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

fn stage_for<'s>(stages: &'s [Stages], track: &Track) -> &'s Stages {
    stages.iter().find(|s| s.fft_size == track.settings.fft_size).expect("stages prepared for every size")
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
            self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE,
            })
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
    /// [`crate::analysis::spectrum::gated_spectra`]. `max_chunk_samples` (tests) caps the samples
    /// per chunk below what the binding limit allows.
    ///
    /// Tracks go in sub-batches of about [`BATCH_BYTES`] of samples: one submission computes every
    /// frame power of a sub-batch, one readback brings them, the host gates, and one more
    /// submission computes and reduces every spectrum. The next sub-batch is uploaded while the GPU
    /// works on the current one's spectra.
    pub fn gated_spectra(&self, tracks: &[Track], max_chunk_samples: Option<usize>) -> Result<Vec<GatedSpectra>> {
        let mut stages: Vec<Stages> = Vec::new();
        for track in tracks {
            if !stages.iter().any(|s| s.fft_size == track.settings.fft_size) {
                stages.push(self.stages(track.settings.fft_size)?);
            }
        }
        let mut batches: Vec<&[Track]> = Vec::new();
        let mut rest = tracks;
        while !rest.is_empty() {
            let mut bytes = 0;
            let count = rest.iter().take_while(|t| {
                bytes += t.channels.len() * t.channels[0].len() * 4;
                bytes <= BATCH_BYTES
            });
            let count = count.count().max(1);
            batches.push(&rest[..count]);
            rest = &rest[count..];
        }
        let mut out = Vec::with_capacity(tracks.len());
        let mut in_flight: Option<Spectra> = None;
        for batch in batches {
            let powers = self.frame_powers(batch, &stages, max_chunk_samples)?;
            if let Some(previous) = in_flight.take() {
                out.extend(self.finish(previous)?);
            }
            let values = self.read_back(&powers.power, powers.frames)?;
            in_flight = Some(self.spectra(powers, &values, &stages)?);
        }
        if let Some(last) = in_flight {
            out.extend(self.finish(last)?);
        }
        Ok(out)
    }

    fn read_back(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        let staging =
            self.buffer("readback", (len * 4) as u64, wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
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

    /// A storage buffer holding channel c's samples [start, end) at offset c·(end − start),
    /// zero-filled past the track's end up to `end`.
    fn upload(&self, track: &Track, start: usize, end: usize) -> wgpu::Buffer {
        let len = end - start;
        let buffer = self.buffer(
            "samples",
            (len * track.channels.len() * 4).max(4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        for (c, ch) in track.channels.iter().enumerate() {
            let avail = ch.len().min(end).saturating_sub(start);
            if avail > 0 {
                self.queue.write_buffer(&buffer, (c * len * 4) as u64, bytemuck::cast_slice(&ch[start..start + avail]));
            }
        }
        buffer
    }

    /// An uninitialised buffer of `size` bytes.
    fn buffer(&self, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        })
    }

    fn uniform(&self, params: &[u8]) -> wgpu::Buffer {
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: params,
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
        (x, y): (u32, u32),
    ) {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
            .collect();
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// Step 1 for a sub-batch: every frame's windowed power, in one submission.
    fn frame_powers<'t>(
        &self,
        tracks: &'t [Track<'t>],
        stages: &[Stages],
        max_chunk_samples: Option<usize>,
    ) -> Result<Powers<'t>> {
        let binding = self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size) as usize;
        let mut plans = Vec::with_capacity(tracks.len());
        let mut first_frame = 0;
        for track in tracks {
            let n = track.settings.fft_size;
            let len = track.channels[0].len();
            // At least one group of frames laid end to end (see `spectra`), at most the whole track.
            let group_span = FRAMES_PER_GROUP as usize * n;
            let chunk_samples = (binding / 4 / track.channels.len())
                .min(max_chunk_samples.unwrap_or(usize::MAX).max(group_span))
                .min(len.max(group_span));
            if chunk_samples < group_span {
                return Err(Error::Gpu {
                    reason: format!(
                        "storage bindings of {binding} bytes cannot hold {FRAMES_PER_GROUP} {n}-point frames"
                    ),
                });
            }
            let starts = frame_starts(len, &track.settings);
            plans.push(TrackPlan { first_frame, chunk_samples, whole: None, starts });
            first_frame += plans.last().expect("pushed").starts.len();
        }
        let power = self.buffer(
            "frame powers",
            (first_frame * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let mut encoder = self.device.create_command_encoder(&Default::default());
        for (track, plan) in tracks.iter().zip(plans.iter_mut()) {
            let stage = stage_for(stages, track);
            let (n, hop) = (track.settings.fft_size, track.settings.hop);
            let frames_per_chunk = (plan.chunk_samples - n) / hop + 1;
            for first in (0..plan.starts.len()).step_by(frames_per_chunk) {
                let frames = frames_per_chunk.min(plan.starts.len() - first);
                let (start, end) = (plan.starts[first], plan.starts[first + frames - 1] + n);
                let samples = self.upload(track, start, end);
                let (x, y) = dispatch_size(frames as u32);
                let params = StftParams {
                    len: (end - start) as u32,
                    stereo: u32::from(track.channels.len() == 2),
                    frames: frames as u32,
                    hop: hop as u32,
                    row: x,
                    first: (plan.first_frame + first) as u32,
                    ..Default::default()
                };
                self.dispatch(
                    &mut encoder,
                    &stage.frame_power,
                    &[&self.uniform(bytemuck::bytes_of(&params)), &samples, &stage.window, &power],
                    (x, y),
                );
                if frames == plan.starts.len() {
                    plan.whole = Some(samples); // one chunk holds the whole track: step 3 reuses it
                }
            }
        }
        self.queue.submit([encoder.finish()]);
        self.check()?;
        Ok(Powers { tracks, plans, power, frames: first_frame })
    }

    /// Steps 2 and 3 for a sub-batch: the gate on the host, then every gated spectrum computed and
    /// reduced in one submission (not waited for).
    fn spectra<'t>(&self, powers: Powers<'t>, values: &[f32], stages: &[Stages]) -> Result<Spectra<'t>> {
        let mut encoder = self.device.create_command_encoder(&Default::default());
        let mut offsets = Vec::with_capacity(powers.tracks.len());
        let mut total_values = 0;
        for track in powers.tracks {
            offsets.push(total_values);
            total_values += 3 * (track.settings.fft_size / 2 + 1);
        }
        let totals = self.buffer(
            "totals",
            (total_values * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let mut used_frames = Vec::with_capacity(powers.tracks.len());
        let mut band_rows = Vec::with_capacity(powers.tracks.len());
        let mut band_values = 0;
        for (track, plan) in powers.tracks.iter().zip(&powers.plans) {
            let frame_powers: Vec<f64> =
                values[plan.first_frame..plan.first_frame + plan.starts.len()].iter().map(|&v| f64::from(v)).collect();
            let used = gated_frames(&frame_powers, track.settings.relative_gate_db);
            band_rows.push(band_values);
            band_values += used.len() * MAX_BANDS as usize;
            used_frames.push(used);
        }
        let band_power = self.buffer(
            "band power",
            (band_values.max(1) * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        for (((track, plan), &offset), (used_frames, &band_row)) in
            powers.tracks.iter().zip(&powers.plans).zip(&offsets).zip(used_frames.iter().zip(&band_rows))
        {
            let used: Vec<usize> = used_frames.iter().map(|&i| plan.starts[i]).collect();
            let out = TrackOutputs { totals: &totals, offset, band_power: &band_power, band_row };
            self.encode_track(&mut encoder, stage_for(stages, track), track, plan, &used, out);
        }
        self.queue.submit([encoder.finish()]);
        self.check()?;
        Ok(Spectra {
            tracks: powers.tracks,
            plans: powers.plans,
            totals,
            offsets,
            total_values,
            used_frames,
            band_power,
            band_rows,
            band_values,
        })
    }

    /// Encodes one track's spectra: its `used` frames (start positions) in chunks of whole groups,
    /// each chunk's STFT power partials reduced into the track's totals.
    fn encode_track(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        stage: &Stages,
        track: &Track,
        plan: &TrackPlan,
        used: &[usize],
        out: TrackOutputs,
    ) {
        let n = track.settings.fft_size;
        let edges: Vec<u32> = dynamics_band_bins(track.sample_rate, n).iter().map(|&e| e as u32).collect();
        let edge_buffer = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("band edges"),
            contents: bytemuck::cast_slice(&edges),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let values = 3 * (n / 2 + 1);
        let group_size = FRAMES_PER_GROUP as usize;
        let mut first = 0;
        let mut chunk_index = 0u32;
        while first < used.len() {
            // As many whole groups as fit in a chunk (always at least one).
            let mut end = (first + group_size).min(used.len());
            while end < used.len() {
                let next = (end + group_size).min(used.len());
                if used[next - 1] + n - used[first] > plan.chunk_samples {
                    break;
                }
                end = next;
            }
            let (frames, groups) = (end - first, (end - first).div_ceil(group_size));
            let (samples, chunk_len, relative) = self.chunk_samples(track, plan, &used[first..end]);
            let frame_buffer = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("frame starts"),
                contents: bytemuck::cast_slice(&relative),
                usage: wgpu::BufferUsages::STORAGE,
            });
            let partials = self.buffer("partials", (groups * values * 4) as u64, wgpu::BufferUsages::STORAGE);
            let (x, y) = dispatch_size(groups as u32);
            let params = StftParams {
                len: chunk_len as u32,
                stereo: u32::from(track.channels.len() == 2),
                frames: frames as u32,
                hop: track.settings.hop as u32,
                groups: groups as u32,
                row: x,
                first: (out.band_row / MAX_BANDS as usize + first) as u32,
                bands: (edges.len() - 1) as u32,
            };
            self.dispatch(
                encoder,
                &stage.stft_power,
                &[
                    &self.uniform(bytemuck::bytes_of(&params)),
                    &samples,
                    &frame_buffer,
                    &stage.window,
                    &stage.twiddles,
                    &partials,
                    &edge_buffer,
                    out.band_power,
                ],
                (x, y),
            );
            let reduce = ReduceParams {
                values: values as u32,
                groups: groups as u32,
                accumulate: u32::from(chunk_index > 0),
                offset: out.offset as u32,
            };
            self.dispatch(
                encoder,
                &stage.reduce,
                &[&self.uniform(bytemuck::bytes_of(&reduce)), &partials, out.totals],
                ((values as u32).div_ceil(64), 1),
            );
            first = end;
            chunk_index += 1;
        }
    }

    /// The samples one chunk of frames (`starts`) reads, their length, and each frame's start
    /// within them: the whole track's upload when there is one, else the span the frames cover, or
    /// (one group spread over more than a chunk: long gated-out stretches) the frames laid end to
    /// end, zero-padded past the track's end.
    fn chunk_samples(&self, track: &Track, plan: &TrackPlan, starts: &[usize]) -> (wgpu::Buffer, usize, Vec<u32>) {
        let (n, len) = (track.settings.fft_size, track.channels[0].len());
        let (first, last) = (starts[0], starts[starts.len() - 1]);
        if let Some(whole) = &plan.whole {
            let whole_len = plan.starts[plan.starts.len() - 1] + n;
            return (whole.clone(), whole_len, starts.iter().map(|&s| s as u32).collect());
        }
        if last + n - first <= plan.chunk_samples {
            return (
                self.upload(track, first, last + n),
                last + n - first,
                starts.iter().map(|&s| (s - first) as u32).collect(),
            );
        }
        let chunk_len = starts.len() * n;
        let laid: Vec<Vec<f32>> = track
            .channels
            .iter()
            .map(|ch| {
                let mut laid = vec![0.0f32; chunk_len];
                for (f, &s) in starts.iter().enumerate() {
                    let avail = len.saturating_sub(s).min(n);
                    laid[f * n..f * n + avail].copy_from_slice(&ch[s..s + avail]);
                }
                laid
            })
            .collect();
        let refs: Vec<&[f32]> = laid.iter().map(Vec::as_slice).collect();
        let laid_track = Track { channels: &refs, sample_rate: track.sample_rate, settings: track.settings.clone() };
        (self.upload(&laid_track, 0, chunk_len), chunk_len, (0..starts.len()).map(|f| (f * n) as u32).collect())
    }

    /// Reads a sub-batch's sums back and turns them into spectra.
    fn finish(&self, s: Spectra) -> Result<Vec<GatedSpectra>> {
        let sums = self.read_back(&s.totals, s.total_values)?;
        let band_sums = self.read_back(&s.band_power, s.band_values.max(1))?;
        Ok(s.tracks
            .iter()
            .zip(&s.plans)
            .zip(s.offsets.iter().zip(&s.used_frames).zip(&s.band_rows))
            .map(|((track, plan), ((&offset, used_frames), &band_row))| {
                let used = used_frames.len();
                let n = track.settings.fft_size;
                let bins = n / 2 + 1;
                let part = |a: usize| -> Vec<f64> {
                    if used == 0 || (a > 0 && track.channels.len() == 1) {
                        return vec![0.0; bins];
                    }
                    sums[offset + a * bins..offset + (a + 1) * bins].iter().map(|&v| f64::from(v)).collect()
                };
                let mut spectra =
                    spectra_from_sums([part(0), part(1), part(2)], track.sample_rate, n, used, plan.starts.len());
                let edges = dynamics_band_bins(track.sample_rate, n);
                let bands = edges.len() - 1;
                let scale = band_power_scale(n);
                let mut band_power = vec![0.0f32; plan.starts.len() * bands];
                for (row, &frame) in used_frames.iter().enumerate() {
                    for b in 0..bands {
                        band_power[frame * bands + b] =
                            (f64::from(band_sums[band_row + row * MAX_BANDS as usize + b]) * scale) as f32;
                    }
                }
                spectra.hop_s = track.settings.hop as f64 / f64::from(track.sample_rate);
                spectra.band_bins = edges;
                spectra.band_power = band_power;
                spectra
            })
            .collect())
    }
}

/// Samples of sample data per sub-batch.
pub const BATCH_BYTES: usize = 1 << 30;

/// How one track of a sub-batch is laid out.
struct TrackPlan {
    /// Index of its first frame in the sub-batch's frame powers.
    first_frame: usize,
    chunk_samples: usize,
    /// The upload of the whole track, when one chunk held it.
    whole: Option<wgpu::Buffer>,
    starts: Vec<usize>,
}

/// A sub-batch after step 1 (frame powers submitted).
struct Powers<'t> {
    tracks: &'t [Track<'t>],
    plans: Vec<TrackPlan>,
    power: wgpu::Buffer,
    frames: usize,
}

/// Where a track's spectra go: its totals (from `offset`, in values) and its band-power rows
/// (from `band_row`).
struct TrackOutputs<'b> {
    totals: &'b wgpu::Buffer,
    offset: usize,
    band_power: &'b wgpu::Buffer,
    band_row: usize,
}

/// A sub-batch after step 3 (spectra submitted).
struct Spectra<'t> {
    tracks: &'t [Track<'t>],
    plans: Vec<TrackPlan>,
    totals: wgpu::Buffer,
    offsets: Vec<usize>,
    total_values: usize,
    /// Per track: indices of its gated frames.
    used_frames: Vec<Vec<usize>>,
    /// Every track's per-frame band sums, rows of [`MAX_BANDS`], track after track from
    /// `band_rows[track]` (in values).
    band_power: wgpu::Buffer,
    band_rows: Vec<usize>,
    band_values: usize,
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
