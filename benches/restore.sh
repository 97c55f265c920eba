#!/usr/bin/env bash
# Restoration benchmark: five minutes of stereo music (the bundled "Feelings" excerpt looped,
# after a 5 s run-in) with every fault restoration repairs — white hiss at -60 dBFS, 50.02 Hz hum
# at -50 dBFS, 300 clicks, then clipping 3 dB under the peak — restored by `automaster restore` with
# every repair on, then each repair alone. Prints the restoration's own time (the summary's
# seconds: detection and repair, no decode or encode), wall time and peak RSS (GNU time).
# Needs: python3 with numpy and soundfile, /usr/bin/time. Usage: bash benches/restore.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=${TMPDIR:-/tmp}/automaster-restore-bench
mkdir -p "$work"
cargo build --release -q
bin=$PWD/target/release/automaster
python3 - "$PWD/references/sectoid_feelings_excerpt.ogg" "$work/damaged.wav" <<'PY'
import sys
import numpy as np
import soundfile as sf
x, fs = sf.read(sys.argv[1])
n = 300 * fs
y = np.concatenate([np.zeros((5 * fs, 2)), np.tile(x, (n // len(x) + 1, 1))])[:n] * 0.5
rng = np.random.default_rng(3)
y += rng.standard_normal(y.shape) * 10 ** (-60 / 20)
t = np.arange(n) / fs
y += (10 ** (-50 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 50.02 * t))[:, None]
for k in range(300):
    i = rng.integers(fs, n - fs)
    y[i:i + 10, k % 2] += 0.2 * rng.choice([-1, 1])
level = np.abs(y).max() * 10 ** (-3 / 20)
y = np.clip(y, -level, level)
sf.write(sys.argv[2], y.astype(np.float32), fs, subtype="FLOAT")
PY
run() {
    local label=$1; shift
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M" -o "$work/time" "$bin" restore "$work/damaged.wav" -o "$work/out.wav" \
            --bit-depth 32f --json "$@" > "$work/summary.json"
        read -r wall rss < "$work/time"
        secs=$(python3 -c "import json; r = json.load(open('$work/summary.json'))['restoration']; print('%.2f s (%s)' % (r['seconds'], ', '.join(r['asked'])))")
        echo "$label: restoration ${secs}, wall ${wall} s, peak $((rss / 1024)) MB"
    done
}
run "all repairs" --declip --declick --dehum --dehiss
for r in declip declick dehum dehiss; do run "$r" "--$r"; done
