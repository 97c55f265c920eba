//! The floating-point environment the processing runs in: subnormal numbers flushed to zero.
//!
//! Recursions decay through the subnormal range (below 1.2e-38 in f32, 2.2e-308 in f64) wherever
//! a track is silent for a few seconds: the K-weighting's 38 Hz pole pair after ~3 s of digital
//! silence, the limiter's release after ~9 s without reduction; an expanding band leaves
//! subnormal samples behind that every later pass multiplies. Intel cores take a microcode assist
//! of ~100 cycles per operation on one: 10 s of leading and 30 s of trailing silence took a
//! 5-minute master from 1.3 s to 2.5–3.0 s, K-weighting alone a quarter of it.
//!
//! Flushed to zero (FTZ) and read as zero (DAZ), such values change nothing that is heard or
//! measured: a 24-bit step is 1.2e-7, the loudness gates sit at −70 LUFS, and a gain of
//! 1 − 1e-39 is 1 in f32. The setting is per thread and process-wide in effect, so the library
//! leaves it to the program: the binary and the benches set it on every thread at start
//! ([`flush_subnormals_everywhere`]); other callers get IEEE subnormals (the same results,
//! slower where they occur).

/// MXCSR bits: flush-to-zero (15) and denormals-are-zero (6).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

/// Makes the calling thread flush subnormal results to zero and read subnormal inputs as zero
/// (x86-64: MXCSR's FTZ and DAZ bits; a no-op elsewhere).
pub fn flush_subnormals_on_this_thread() {
    #[cfg(target_arch = "x86_64")]
    {
        let mut csr = 0u32;
        // SAFETY: stmxcsr/ldmxcsr read and write the SSE control register through a valid u32;
        // only the FTZ and DAZ bits change, which no Rust code relies on being clear.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
            csr |= FTZ_DAZ;
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly));
        }
    }
}

/// Flushes subnormals on this thread and on every worker of rayon's global pool, which it builds
/// for that: call once at the start of a program, before anything uses rayon (an error if
/// something already has).
pub fn flush_subnormals_everywhere() -> Result<(), rayon::ThreadPoolBuildError> {
    flush_subnormals_on_this_thread();
    rayon::ThreadPoolBuilder::new().start_handler(|_| flush_subnormals_on_this_thread()).build_global()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// On a thread of its own (the setting is per thread): a product that lands in the subnormal
    /// range reads 0 after the call and not before, and a subnormal input acts as 0.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn subnormals_flush_to_zero_after_the_call_only() {
        std::thread::spawn(|| {
            // 1e-20² = 1e-40: subnormal in f32 (normal ones end at 1.2e-38).
            let tiny = black_box(1e-20f32);
            assert!(black_box(tiny * tiny) > 0.0, "IEEE subnormals before the call");
            let subnormal = f32::from_bits(1);
            flush_subnormals_on_this_thread();
            assert_eq!(black_box(tiny) * black_box(tiny), 0.0, "flushed result");
            assert_eq!(black_box(subnormal) * black_box(2.0f32), 0.0, "subnormal input read as zero");
            assert_eq!(black_box(1e-300f64) * black_box(1e-10f64), 0.0, "f64 too");
            assert!(black_box(tiny) * black_box(1e-10f32) > 0.0, "normal results stay");
        })
        .join()
        .unwrap();
    }
}
