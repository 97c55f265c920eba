//! The crate's one way of splitting work across threads (rayon), so results never depend on the
//! thread count or on how the work was scheduled:
//! - per-sample passes run in fixed chunks of [`GRAIN`] samples;
//! - sums that must not depend on scheduling go through [`ordered_groups`]: fixed groups, each
//!   summed in order by one worker, the groups' results folded in order.
//!
//! Two chunkings are part of what they compute and keep their own sizes: the dither's independently
//! seeded streams (`render::dither`) and the loudness meter's filter lanes (`analysis::loudness`).
use rayon::prelude::*;

/// Samples per task of a per-sample pass: large enough that a task's overhead (~1 µs) is lost in
/// its work, small enough that a three-minute stereo track gives each of 16 threads many tasks.
pub const GRAIN: usize = 1 << 16;

/// Maps each fixed group of `group` items of `items` (the last may be shorter) to a result, in
/// parallel, with a scratch from `init` per worker, and hands the results to `fold` in the groups'
/// order. Groups are mapped a batch of `batch` groups at a time, so at most `batch` results are
/// held at once however long the input.
pub fn ordered_groups<T: Sync, S, R: Send>(
    items: &[T],
    group: usize,
    batch: usize,
    init: impl Fn() -> S + Sync + Send,
    map: impl Fn(&mut S, &[T]) -> R + Sync + Send,
    mut fold: impl FnMut(R),
) {
    for part in items.chunks(group * batch.max(1)) {
        let results: Vec<R> = part.par_chunks(group).map_init(&init, &map).collect();
        results.into_iter().for_each(&mut fold);
    }
}

/// `fold` over `x` in parallel chunks from `init`, the chunks' results combined by `fold` too (so
/// it must be associative and take its own results: max, min).
pub fn parallel_fold(x: &[f32], init: f32, fold: impl Fn(f32, f32) -> f32 + Sync) -> f32 {
    x.par_chunks(GRAIN).map(|c| c.iter().fold(init, |m, &v| fold(m, v))).reduce(|| init, &fold)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fold sees every group once, in order, whatever the batch.
    #[test]
    fn groups_are_folded_in_order() {
        let items: Vec<u32> = (0..1000).collect();
        for batch in [1, 3, 64, 1000] {
            let mut seen = Vec::new();
            ordered_groups(&items, 16, batch, || (), |_, g| (g[0], g.len()), |r| seen.push(r));
            let want: Vec<(u32, usize)> = items.chunks(16).map(|g| (g[0], g.len())).collect();
            assert_eq!(seen, want, "batch {batch}");
        }
    }
}
