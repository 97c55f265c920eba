#!/usr/bin/env bash
# Album benchmark: the four Sectoid songs of ../shared/audio (13.5 min, Ogg Vorbis) as a CD with
# two crossfades, a gap and a fade (against one reference), mastered by `automaster album`, then
# rendered again from its plan (`--plan`). Prints wall time and peak RSS (GNU time) of each and
# checks that the two folders hold the same bytes.
# Needs: /usr/bin/time. Usage: bash benches/album.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
audio=$(cd ../shared/audio && pwd)
work=${TMPDIR:-/tmp}/automaster-album-bench
mkdir -p "$work"
cargo build --release -q
bin=$PWD/target/release/automaster
cat > "$work/album.toml" <<TOML
title = "Sectoid"
artist = "Sectoid"
references = ["$audio/references/muldjord_armygeddon.ogg"]
platform = "cd"
lufs = -11

[[tracks]]
file = "$audio/references/sectoid_escape_from_chaosland.ogg"
title = "Escape from Chaosland"
crossfade_s = 3

[[tracks]]
file = "$audio/references/sectoid_feelings.ogg"
title = "Feelings"

[[tracks]]
file = "$audio/references/sectoid_metal_madness.ogg"
title = "Metal Madness"
gap_before_s = 1.5
crossfade_s = 2
crossfade_curve = "linear"

[[tracks]]
file = "$audio/references/sectoid_war_of_freedom.ogg"
title = "War of Freedom"
offset_lu = -1
fade_out_s = 3
TOML
measure() { # label, then the command
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > /dev/null
  read -r s kb < "$work/time"
  printf '%-26s %6.1f s  peak RSS %5.0f MB\n' "$label" "$s" "$((kb / 1024))"
}
for _ in $(seq "$runs"); do
  rm -rf "$work/out" "$work/again"
  measure "album (4 songs, 13.5 min)" "$bin" album "$work/album.toml" -o "$work/out" --device cpu --quiet
  measure "album --plan" "$bin" album --plan "$work/out/album-plan.json" -o "$work/again" --device cpu --quiet
  for f in "$work"/out/*; do cmp -s "$f" "$work/again/$(basename "$f")" || { echo "$(basename "$f") differs" >&2; exit 1; }; done
done
echo "the plan's render is byte-identical"
