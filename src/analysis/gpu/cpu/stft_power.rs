//! CPU port of shaders/stft_power.wgsl: the same loops, one workgroup at a time, its invocations
//! run one after another between barriers. Complex values are `[re, im]` like `vec2<f32>`.
use super::mid_or_side;
use crate::analysis::gpu::stft::{StftParams, FRAMES_PER_GROUP, MAX_BANDS};

type C = [f32; 2];

fn cmul(a: C, b: C) -> C {
    [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]]
}
fn conj(a: C) -> C {
    [a[0], -a[1]]
}
fn mul_neg_i(a: C) -> C {
    [a[1], -a[0]]
}
fn add(a: C, b: C) -> C {
    [a[0] + b[0], a[1] + b[1]]
}
fn sub(a: C, b: C) -> C {
    [a[0] - b[0], a[1] - b[1]]
}
fn scale(s: f32, a: C) -> C {
    [s * a[0], s * a[1]]
}

/// The shader's compile-time constants and its bindings.
struct Workgroup<'a> {
    half: u32,
    threads: u32,
    per_thread: u32,
    params: &'a StftParams,
    samples: &'a [f32],
    window: &'a [f32],
    twiddles: &'a [C],
    /// `var<workgroup> exchange`.
    exchange: Vec<f32>,
    /// `var<private> v` and `dest` of every invocation.
    v: Vec<Vec<C>>,
    dest: Vec<Vec<u32>>,
}

impl Workgroup<'_> {
    fn radix4_source(&self, t: u32, s: u32) -> u32 {
        t + (s / 4) * self.threads + (s % 4) * (self.half / 4)
    }

    fn radix2_source(&self, t: u32, s: u32) -> u32 {
        t + (s / 2) * self.threads + (s % 2) * (self.half / 2)
    }

    fn exchange_radix4(&mut self) {
        let (threads, per) = (self.threads as usize, self.per_thread as usize);
        let mut re = vec![vec![0.0f32; per]; threads];
        for t in 0..threads {
            for s in 0..per {
                self.exchange[self.dest[t][s] as usize] = self.v[t][s][0];
            }
        }
        for (t, re) in re.iter_mut().enumerate() {
            for (s, r) in re.iter_mut().enumerate() {
                *r = self.exchange[self.radix4_source(t as u32, s as u32) as usize];
            }
        }
        for t in 0..threads {
            for s in 0..per {
                self.exchange[self.dest[t][s] as usize] = self.v[t][s][1];
            }
        }
        for (t, re) in re.iter().enumerate() {
            for (s, &r) in re.iter().enumerate() {
                self.v[t][s] = [r, self.exchange[self.radix4_source(t as u32, s as u32) as usize]];
            }
        }
    }

    fn fft(&mut self) {
        let (half, threads, per) = (self.half, self.threads, self.per_thread);
        let mut p = 1u32;
        if half.trailing_zeros() & 1 == 1 {
            for t in 0..threads as usize {
                for c in 0..per / 2 {
                    let i = t as u32 + c * threads;
                    let (a, b) = (self.v[t][(2 * c) as usize], self.v[t][(2 * c + 1) as usize]);
                    self.v[t][(2 * c) as usize] = add(a, b);
                    self.v[t][(2 * c + 1) as usize] = sub(a, b);
                    self.dest[t][(2 * c) as usize] = 2 * i;
                    self.dest[t][(2 * c + 1) as usize] = 2 * i + 1;
                }
            }
            p = 2;
            if p < half {
                self.exchange_radix4();
            }
        }
        while p < half {
            for t in 0..threads as usize {
                for c in 0..per / 4 {
                    let i = t as u32 + c * threads;
                    let k = i % p;
                    let e = 2 * k * (half / (4 * p));
                    let s = (4 * c) as usize;
                    let u0 = self.v[t][s];
                    let u1 = cmul(self.v[t][s + 1], self.twiddles[e as usize]);
                    let u2 = cmul(self.v[t][s + 2], self.twiddles[(2 * e) as usize]);
                    let u3 = cmul(self.v[t][s + 3], self.twiddles[(3 * e) as usize]);
                    let (s02, d02, s13, d13) = (add(u0, u2), sub(u0, u2), add(u1, u3), mul_neg_i(sub(u1, u3)));
                    self.v[t][s] = add(s02, s13);
                    self.v[t][s + 1] = add(d02, d13);
                    self.v[t][s + 2] = sub(s02, s13);
                    self.v[t][s + 3] = sub(d02, d13);
                    let j = (i - k) * 4 + k;
                    for q in 0..4 {
                        self.dest[t][s + q as usize] = j + q * p;
                    }
                }
            }
            p *= 4;
            if p < half {
                self.exchange_radix4();
            }
        }
    }

    /// X[k] for every invocation's bins: `x[t][c]`, c ≤ PER_THREAD.
    fn real_spectrum(&mut self, x: &mut [Vec<C>]) {
        let (half, threads, per) = (self.half, self.threads as usize, self.per_thread as usize);
        let mut zk = vec![vec![[0.0f32; 2]; per]; threads];
        let mut zm = vec![vec![[0.0f32; 2]; per]; threads];
        for component in 0..2 {
            for t in 0..threads {
                for s in 0..per {
                    self.exchange[self.dest[t][s] as usize] = self.v[t][s][component];
                }
            }
            for t in 0..threads {
                for c in 0..per {
                    let k = (t + c * threads) as u32;
                    zk[t][c][component] = self.exchange[k as usize];
                    zm[t][c][component] = self.exchange[((half - k) % half) as usize];
                }
            }
        }
        for t in 0..threads {
            for c in 0..per {
                let k = t + c * threads;
                let (a, b) = (zk[t][c], conj(zm[t][c]));
                let e = scale(0.5, add(a, b));
                let o = scale(0.5, mul_neg_i(sub(a, b)));
                x[t][c] = add(e, cmul(self.twiddles[k], o));
            }
            x[t][per] = [zk[t][0][0] - zk[t][0][1], 0.0];
        }
    }

    fn load(&mut self, start: u32, sign: f32) {
        let radix2 = self.half.trailing_zeros() & 1 == 1;
        for t in 0..self.threads {
            for s in 0..self.per_thread {
                let n = if radix2 { self.radix2_source(t, s) } else { self.radix4_source(t, s) };
                let j = 2 * n;
                self.v[t as usize][s as usize] = [
                    mid_or_side(self.params, self.samples, start + j, sign) * self.window[j as usize],
                    mid_or_side(self.params, self.samples, start + j + 1, sign) * self.window[(j + 1) as usize],
                ];
            }
        }
    }
}

/// `band_of` of the shader: the dynamics band of bin k, or MAX_BANDS when it is in none (DC).
fn band_of(params: &StftParams, band_edges: &[u32], k: u32) -> u32 {
    if k < band_edges[0] {
        return MAX_BANDS;
    }
    let mut b = 0;
    while b + 1 < params.bands && k >= band_edges[(b + 1) as usize] {
        b += 1;
    }
    b
}

/// `reduce_bands` of the shader: every invocation's partial sums, invocation 0 first.
fn reduce_bands(
    params: &StftParams,
    exchange: &mut [f32],
    row: u32,
    partial: &[[f32; MAX_BANDS as usize]],
    band_power: &mut [f32],
) {
    let threads = partial.len();
    for (t, p) in partial.iter().enumerate() {
        for b in 0..MAX_BANDS as usize {
            exchange[b * threads + t] = p[b];
        }
    }
    for t in 0..(params.bands as usize).min(threads) {
        let mut total = 0.0f32;
        for i in 0..threads {
            total += exchange[t * threads + i];
        }
        band_power[row as usize * MAX_BANDS as usize + t] = total;
    }
}

/// Runs every workgroup (`group` < params.groups) of the dispatch.
#[allow(clippy::too_many_arguments)]
pub fn stft_power(
    params: &StftParams,
    fft_size: u32,
    threads: u32,
    samples: &[f32],
    frame_starts: &[u32],
    window: &[f32],
    twiddles: &[C],
    partials: &mut [f32],
    band_edges: &[u32],
    band_power: &mut [f32],
) {
    let half = fft_size / 2;
    let per = half / threads;
    let bins = (half + 1) as usize;
    let mut wg = Workgroup {
        half,
        threads,
        per_thread: per,
        params,
        samples,
        window,
        twiddles,
        exchange: vec![0.0; half as usize],
        v: vec![vec![[0.0; 2]; per as usize]; threads as usize],
        dest: vec![vec![0; per as usize]; threads as usize],
    };
    let slots = per as usize + 1;
    for group in 0..params.groups {
        let zero = || vec![vec![0.0f32; slots]; threads as usize];
        let (mut mid_sum, mut side_sum, mut cross_sum) = (zero(), zero(), zero());
        let mut mid = vec![vec![[0.0f32; 2]; slots]; threads as usize];
        let mut side = mid.clone();
        let first = group * FRAMES_PER_GROUP;
        let last = (first + FRAMES_PER_GROUP).min(params.frames);
        for f in first..last {
            let start = frame_starts[f as usize];
            wg.load(start, 1.0);
            wg.fft();
            wg.real_spectrum(&mut mid);
            if params.stereo != 0 {
                wg.load(start, -1.0);
                wg.fft();
                wg.real_spectrum(&mut side);
            }
            let mut partial = vec![[0.0f32; MAX_BANDS as usize]; threads as usize];
            for t in 0..threads as usize {
                for c in 0..slots {
                    let m = mid[t][c];
                    let mut p = m[0] * m[0] + m[1] * m[1];
                    mid_sum[t][c] += p;
                    if params.stereo != 0 {
                        let s = side[t][c];
                        side_sum[t][c] += s[0] * s[0] + s[1] * s[1];
                        cross_sum[t][c] += m[0] * s[0] + m[1] * s[1];
                        p += s[0] * s[0] + s[1] * s[1];
                    }
                    let k = if c == per as usize { half } else { (t + c * threads as usize) as u32 };
                    let b = band_of(params, band_edges, k);
                    if b < MAX_BANDS && (c < per as usize || t == 0) {
                        partial[t][b as usize] += p;
                    }
                }
            }
            reduce_bands(params, &mut wg.exchange, params.first + f, &partial, band_power);
        }
        let base = group as usize * 3 * bins;
        for t in 0..threads as usize {
            for c in 0..per as usize {
                let k = t + c * threads as usize;
                partials[base + k] = mid_sum[t][c];
                partials[base + bins + k] = side_sum[t][c];
                partials[base + 2 * bins + k] = cross_sum[t][c];
            }
        }
        partials[base + half as usize] = mid_sum[0][per as usize];
        partials[base + bins + half as usize] = side_sum[0][per as usize];
        partials[base + 2 * bins + half as usize] = cross_sum[0][per as usize];
    }
}
