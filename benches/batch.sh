#!/usr/bin/env bash
# Batch benchmark: 24 tracks of 60 s cut from ../shared/audio (four from each of the six targets,
# 24-bit WAV), mastered against one reference (a 3-min WAV) by `automaster batch` and, for
# comparison, by a shell loop of `automaster master` over the same rows. Prints wall time, tracks
# per minute and peak RSS (GNU time; for the loop, the largest single process). Checks that the
# batch's masters are byte-identical to the loop's.
# Needs: python3 with numpy + soundfile, /usr/bin/time. Usage: bash benches/batch.sh [jobs]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-}
audio=../shared/audio
work=${TMPDIR:-/tmp}/automaster-batch-bench
mkdir -p "$work/tracks"
cargo build --release -q
bin=$PWD/target/release/automaster
python3 - "$audio" "$work" <<'PY'
import sys, os, glob, soundfile as sf
audio, work = sys.argv[1], sys.argv[2]
targets = sorted(glob.glob(os.path.join(audio, 'targets', '*.ogg')))
rows = ['target,output']
for t in targets:
    x, sr = sf.read(t, dtype='float32')
    for k in range(4):
        name = f'{os.path.splitext(os.path.basename(t))[0]}_{k}.wav'
        dst = os.path.join(work, 'tracks', name)
        if not os.path.exists(dst):
            start = min(k * 60 * sr, max(0, len(x) - 60 * sr))
            sf.write(dst, x[start:start + 60 * sr], sr, subtype='PCM_24')
        rows.append(f'tracks/{name},{name}')
open(os.path.join(work, 'manifest.csv'), 'w').write('\n'.join(rows) + '\n')
ref = os.path.join(work, 'reference.wav')
if not os.path.exists(ref):
    x, sr = sf.read(os.path.join(audio, 'references', 'sectoid_escape_from_chaosland.ogg'), dtype='float32')
    sf.write(ref, x[:180 * sr], sr, subtype='PCM_24')
PY
tracks=$(($(wc -l < "$work/manifest.csv") - 1))
rm -rf "$work/batch" "$work/loop"; mkdir -p "$work/loop"
report() { # label seconds peak_kb
  awk -v l="$1" -v s="$2" -v m="$3" -v n="$tracks" 'BEGIN { printf "%-28s %6.1f s  %5.1f tracks/min  peak RSS %5.0f MB\n", l, s, 60 * n / s, m / 1024 }'
}
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/batch.mem" "$bin" batch "$work/manifest.csv" --out-dir "$work/batch" \
  --reference "$work/reference.wav" --device cpu --quiet ${jobs:+--jobs "$jobs"} > /dev/null
end=$(date +%s.%N)
report "batch${jobs:+ --jobs $jobs}" "$(echo "$end - $start" | bc)" "$(cat "$work/batch.mem")"
start=$(date +%s.%N)
peak=0
while IFS=, read -r target output; do
  [ "$target" = target ] && continue
  /usr/bin/time -f "%M" -o "$work/one.mem" "$bin" master "$work/$target" --reference "$work/reference.wav" \
    -o "$work/loop/$output" --device cpu --quiet > /dev/null
  m=$(cat "$work/one.mem"); [ "$m" -gt "$peak" ] && peak=$m
done < "$work/manifest.csv"
end=$(date +%s.%N)
report "loop of master" "$(echo "$end - $start" | bc)" "$peak"
for f in "$work"/loop/*.wav; do cmp -s "$f" "$work/batch/$(basename "$f")" || { echo "differs: $f" >&2; exit 1; }; done
echo "all $tracks masters byte-identical between batch and loop"
