#!/usr/bin/env bash
# How far the streaming (per-clip) post-processing and windowed refinement move VPQ / STQ
# from the official whole-video rules, with the shipped default model on the synthetic
# validation videos (24 frames as in docs/RESULTS.md, and 96 frames for longer videos).
# Usage: bash benchmarks/post_rules.sh [WORKDIR]   (about 10 minutes on 2 CPU cores)
set -euo pipefail
work=${1:-/tmp/axialvs_post_rules}
mkdir -p "$work"
cd "$work"
echo "| frames | rule | VPQ | VPQ_th | VPQ_st | STQ x 100 |"
echo "|---|---|---:|---:|---:|---:|"
for frames in 24 96; do
  data=val$frames
  [ -d "$data" ] || axialvs synth --out "$data" --videos 10 --frames "$frames" --size 144x256 --seed 1 --split val >/dev/null
  videos=$(sed "s|^|$data/images/|" "$data/val.txt")
  run() {  # name, then segment/refine arguments
    local name=$1; shift
    [ -f "$name/pred.json" ] || axialvs "$@" $videos -o "$name" --task panoptic --overwrite >/dev/null 2>&1
    [ -f "$name.json" ] || axialvs evaluate --dataset vipseg --gt "$data/panoptic_gt_VIPSeg_val.json" --pred "$name" --json "$name.json" >/dev/null 2>&1
    python3 - "$frames" "$name" <<'PY'
import json, sys
frames, name = sys.argv[1], sys.argv[2]
s = json.load(open(name + ".json"))
print(f"| {frames} | {name.split('_', 1)[1]} | {s['VPQ']:.2f} | {s['VPQ_th']:.2f} | {s['VPQ_st']:.2f} | {100 * s['STQ']:.2f} |")
PY
  }
  run "f${frames}_segment --post stream (default)" segment --post stream
  run "f${frames}_segment --post video (official)" segment --post video
  run "f${frames}_refine --refine-window 4" refine --refine-window 4
  run "f${frames}_refine --refine-window 24" refine --refine-window 24
  run "f${frames}_refine whole video (default, official)" refine
  run "f${frames}_refine whole video --post video" refine --post video
done
