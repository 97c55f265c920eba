// The fused gated-STFT kernel. One workgroup per group of up to FRAMES_PER_GROUP gated frames: for
// each frame it windows the chunk's samples, forms mid and side, runs a real FFT of FFT_SIZE points
// as a complex FFT of HALF points (even samples real, odd imaginary) followed by the split
// X[k] = E[k] + W_N^k·O[k], and accumulates |M|², |S|² and Re(M·S̄) per bin; the group's sums go to
// `partials` (reduce_groups.wgsl adds the groups). Per frame it also sums |M|² + |S|² over the bins
// of each dynamics band (a workgroup reduction, in a fixed order) into `band_power`: the frame-by-frame
// band levels dynamics matching needs. CPU port: src/gpu/cpu/stft_power.rs.
//
// The complex FFT is Stockham autosort (radix 2 once when log2(HALF) is odd, then radix 4). Each
// invocation keeps PER_THREAD values in registers; between stages they move through one f32 array
// of HALF values in workgroup memory, real parts then imaginary parts, so 16384 points need 32 KiB.
// Twiddles and the window come from tables computed in f64 on the host.
//
// Constants prepended by the host: FFT_SIZE, HALF, THREADS, PER_THREAD (= HALF / THREADS, ≥ 4).
// import shared/complex.wgsl
// import shared/stft_frame.wgsl

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> samples: array<f32>;
@group(0) @binding(2) var<storage, read> frame_starts: array<u32>;
@group(0) @binding(3) var<storage, read> window: array<f32>;
// W_N^j = exp(−2πi·j/FFT_SIZE), j < FFT_SIZE.
@group(0) @binding(4) var<storage, read> twiddles: array<vec2<f32>>;
// Per group: BINS mid sums, BINS side sums, BINS cross sums.
@group(0) @binding(5) var<storage, read_write> partials: array<f32>;
// Bin edges of the dynamics bands: band b holds bins band_edges[b] ..< band_edges[b + 1].
@group(0) @binding(6) var<storage, read> band_edges: array<u32>;
// Per gated frame (row params.first + frame, rows of MAX_BANDS), params.bands raw sums Σ|M|² + |S|².
@group(0) @binding(7) var<storage, read_write> band_power: array<f32>;

const FRAMES_PER_GROUP: u32 = 16u;
const BINS: u32 = HALF + 1u;
const QUARTER: u32 = HALF / 4u;
// Room in `exchange` for one partial sum per invocation and band (HALF ≥ 4·THREADS).
const MAX_BANDS: u32 = 4u;

var<workgroup> exchange: array<f32, HALF>;

// Stage values; slot s of invocation t holds element `source(t, s)` of the stage's input.
var<private> v: array<vec2<f32>, PER_THREAD>;
// Where each slot's output goes in the stage's output.
var<private> dest: array<u32, PER_THREAD>;

// Input layout of a radix-4 stage: slot 4c + q holds element (t + c·THREADS) + q·HALF/4.
fn radix4_source(t: u32, s: u32) -> u32 {
    return t + (s / 4u) * THREADS + (s % 4u) * QUARTER;
}

// Input layout of the radix-2 stage: slot 2c + q holds element (t + c·THREADS) + q·HALF/2.
fn radix2_source(t: u32, s: u32) -> u32 {
    return t + (s / 2u) * THREADS + (s % 2u) * (HALF / 2u);
}

// Moves every slot's value to dest[slot] of the stage output and reloads the slots in the radix-4
// input layout of the next stage: real parts, then imaginary parts.
fn exchange_radix4(t: u32) {
    var re: array<f32, PER_THREAD>;
    for (var s = 0u; s < PER_THREAD; s++) {
        exchange[dest[s]] = v[s].x;
    }
    workgroupBarrier();
    for (var s = 0u; s < PER_THREAD; s++) {
        re[s] = exchange[radix4_source(t, s)];
    }
    workgroupBarrier();
    for (var s = 0u; s < PER_THREAD; s++) {
        exchange[dest[s]] = v[s].y;
    }
    workgroupBarrier();
    for (var s = 0u; s < PER_THREAD; s++) {
        v[s] = vec2<f32>(re[s], exchange[radix4_source(t, s)]);
    }
    workgroupBarrier();
}

// Complex FFT of HALF points: on entry the slots hold the input in the layout of the first stage
// (radix 2 if log2(HALF) is odd, else radix 4); on exit dest[] says where each slot's result goes.
fn fft(t: u32) {
    var p = 1u;
    if (firstTrailingBit(HALF) & 1u) == 1u {
        for (var c = 0u; c < PER_THREAD / 2u; c++) {
            let i = t + c * THREADS;
            let a = v[2u * c];
            let b = v[2u * c + 1u];
            v[2u * c] = a + b;
            v[2u * c + 1u] = a - b;
            dest[2u * c] = 2u * i;
            dest[2u * c + 1u] = 2u * i + 1u;
        }
        p = 2u;
        if p < HALF {
            exchange_radix4(t);
        }
    }
    while p < HALF {
        for (var c = 0u; c < PER_THREAD / 4u; c++) {
            let i = t + c * THREADS;
            let k = i % p;
            // W_HALF^(q·k·HALF/(4p)) = W_N^(2·q·k·HALF/(4p))
            let e = 2u * k * (HALF / (4u * p));
            let u0 = v[4u * c];
            let u1 = cmul(v[4u * c + 1u], twiddles[e]);
            let u2 = cmul(v[4u * c + 2u], twiddles[2u * e]);
            let u3 = cmul(v[4u * c + 3u], twiddles[3u * e]);
            let s02 = u0 + u2;
            let d02 = u0 - u2;
            let s13 = u1 + u3;
            let d13 = mul_neg_i(u1 - u3);
            v[4u * c] = s02 + s13;
            v[4u * c + 1u] = d02 + d13;
            v[4u * c + 2u] = s02 - s13;
            v[4u * c + 3u] = d02 - d13;
            let j = (i - k) * 4u + k;
            for (var q = 0u; q < 4u; q++) {
                dest[4u * c + q] = j + q * p;
            }
        }
        p *= 4u;
        if p < HALF {
            exchange_radix4(t);
        }
    }
}

// Real spectrum X[k] of the frame for the bins of invocation t (k = t + c·THREADS, and k = HALF in
// the extra slot of invocation 0), from the slots after fft(): Z[k] and Z[HALF − k] are gathered
// through workgroup memory, then E[k] = (Z[k] + Z̄[H−k])/2, O[k] = (Z[k] − Z̄[H−k])/(2i),
// X[k] = E[k] + W_N^k·O[k] (X[HALF] = Re Z[0] − Im Z[0]).
fn real_spectrum(t: u32, x: ptr<function, array<vec2<f32>, PER_THREAD_BINS>>) {
    var zk: array<vec2<f32>, PER_THREAD>;
    var zm: array<vec2<f32>, PER_THREAD>;
    for (var part = 0u; part < 2u; part++) {
        for (var s = 0u; s < PER_THREAD; s++) {
            exchange[dest[s]] = v[s][part];
        }
        workgroupBarrier();
        for (var c = 0u; c < PER_THREAD; c++) {
            let k = t + c * THREADS;
            zk[c][part] = exchange[k];
            zm[c][part] = exchange[(HALF - k) % HALF];
        }
        workgroupBarrier();
    }
    for (var c = 0u; c < PER_THREAD; c++) {
        let k = t + c * THREADS;
        let a = zk[c];
        let b = conj(zm[c]);
        let e = 0.5 * (a + b);
        let o = 0.5 * mul_neg_i(a - b);
        (*x)[c] = e + cmul(twiddles[k], o);
    }
    (*x)[PER_THREAD] = vec2<f32>(zk[0].x - zk[0].y, 0.0);
}

// Loads the windowed mid or side of the frame at `start` as z[n] = x[2n] + i·x[2n+1], in the first
// stage's input layout.
fn load(t: u32, start: u32, sign: f32) {
    let radix2 = (firstTrailingBit(HALF) & 1u) == 1u;
    for (var s = 0u; s < PER_THREAD; s++) {
        var n = radix4_source(t, s);
        if radix2 {
            n = radix2_source(t, s);
        }
        let j = 2u * n;
        v[s] = vec2<f32>(mid_or_side(start + j, sign) * window[j], mid_or_side(start + j + 1u, sign) * window[j + 1u]);
    }
}

// The dynamics band of bin k, or MAX_BANDS when it is in none (DC).
fn band_of(k: u32) -> u32 {
    if k < band_edges[0] {
        return MAX_BANDS;
    }
    var b = 0u;
    while b + 1u < params.bands && k >= band_edges[b + 1u] {
        b++;
    }
    return b;
}

// Adds every invocation's per-band partial sums, invocation 0 first, and writes the frame's row.
fn reduce_bands(t: u32, row: u32, partial: array<f32, MAX_BANDS>) {
    for (var b = 0u; b < MAX_BANDS; b++) {
        exchange[b * THREADS + t] = partial[b];
    }
    workgroupBarrier();
    if t < params.bands {
        var total = 0.0;
        for (var i = 0u; i < THREADS; i++) {
            total += exchange[t * THREADS + i];
        }
        band_power[row * MAX_BANDS + t] = total;
    }
    workgroupBarrier();
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let group = flat_workgroup(wid, params.row);
    if group >= params.groups {
        return;
    }
    var mid_sum: array<f32, PER_THREAD_BINS>;
    var side_sum: array<f32, PER_THREAD_BINS>;
    var cross_sum: array<f32, PER_THREAD_BINS>;
    var mid: array<vec2<f32>, PER_THREAD_BINS>;
    var side: array<vec2<f32>, PER_THREAD_BINS>;
    let first = group * FRAMES_PER_GROUP;
    let last = min(first + FRAMES_PER_GROUP, params.frames);
    for (var f = first; f < last; f++) {
        let start = frame_starts[f];
        load(t, start, 1.0);
        fft(t);
        real_spectrum(t, &mid);
        if params.stereo != 0u {
            load(t, start, -1.0);
            fft(t);
            real_spectrum(t, &side);
        }
        var partial: array<f32, MAX_BANDS>;
        for (var c = 0u; c < PER_THREAD_BINS; c++) {
            let m = mid[c];
            var p = dot(m, m);
            mid_sum[c] += p;
            if params.stereo != 0u {
                let s = side[c];
                side_sum[c] += dot(s, s);
                cross_sum[c] += m.x * s.x + m.y * s.y;
                p += dot(s, s);
            }
            // Slot PER_THREAD is bin HALF, held by invocation 0 only.
            let k = select(t + c * THREADS, HALF, c == PER_THREAD);
            let b = band_of(k);
            if b < MAX_BANDS && (c < PER_THREAD || t == 0u) {
                partial[b] += p;
            }
        }
        reduce_bands(t, params.first + f, partial);
    }
    let base = group * 3u * BINS;
    for (var c = 0u; c < PER_THREAD; c++) {
        let k = t + c * THREADS;
        partials[base + k] = mid_sum[c];
        partials[base + BINS + k] = side_sum[c];
        partials[base + 2u * BINS + k] = cross_sum[c];
    }
    if t == 0u {
        partials[base + HALF] = mid_sum[PER_THREAD];
        partials[base + BINS + HALF] = side_sum[PER_THREAD];
        partials[base + 2u * BINS + HALF] = cross_sum[PER_THREAD];
    }
}
