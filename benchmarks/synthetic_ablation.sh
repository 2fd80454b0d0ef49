#!/usr/bin/env bash
# The paper's ablation on the synthetic benchmark: clip-level baseline, + within-clip tracking
# (axial-trajectory attention, near-online), + cross-clip tracking (offline), and divided
# space-time attention instead of axial-trajectory attention; 3 seeds each, tiny preset.
# Two runs at a time with one thread each (a 2-core CPU). Results: docs/RESULTS.md.
#
#   bash benchmarks/synthetic_ablation.sh [WORK_DIR]      (default /tmp/axialvs_ablation)
set -euo pipefail
WORK=${1:-/tmp/axialvs_ablation}
DATA=$WORK/data
RUNS=$WORK/runs
SEEDS=${SEEDS:-"0 1 2"}
STEPS=${STEPS:-2000}          # stage 1 (the tiny recipe's default)
STEPS2=${STEPS2:-1000}        # stage 2 (the tiny recipe's default)
JOBS=${JOBS:-2}
mkdir -p "$RUNS" "$WORK/scores" "$WORK/pred"

if [ ! -f "$DATA/panoptic_gt_VIPSeg_val.json" ]; then
  axialvs synth --out "$DATA" --videos 32 --frames 24 --size 144x256 --seed 0 --split train
  axialvs synth --out "$DATA" --videos 10 --frames 24 --size 144x256 --seed 1 --split val
fi

common="--data $DATA --preset tiny --threads 1 --workers 1 --no-progress"
stage1() {  # name seed [--set ...]
  local name=$1 seed=$2; shift 2
  local out=$RUNS/${name}_s$seed fresh=--overwrite
  [ -f "$out/model_final.pt" ] && return 0
  [ -f "$out/last_state.pt" ] && fresh=--resume   # an interrupted run continues
  axialvs train $common --steps "$STEPS" --seed "$seed" --out "$out" $fresh "$@" \
    >> "$RUNS/${name}_s$seed.log" 2>&1
}
stage2() {  # seed
  local seed=$1
  local out=$RUNS/offline_s$seed fresh=--overwrite
  [ -f "$out/model_final.pt" ] && return 0
  [ -f "$out/last_state.pt" ] && fresh=--resume
  axialvs train $common --stage 2 --steps "$STEPS2" --seed "$seed" \
    --init "$RUNS/axial_s$seed/model_final.pt" --out "$out" $fresh \
    >> "$RUNS/offline_s$seed.log" 2>&1
}
export -f stage1 stage2
export common STEPS STEPS2 RUNS

{
  for s in $SEEDS; do
    echo "stage1 axial $s"
    echo "stage1 baseline $s --set within_clip.enabled=false"
    echo "stage1 divided $s --set within_clip.temporal_attention=divided"
  done
} | xargs -P "$JOBS" -I{} bash -c '{}'
for s in $SEEDS; do echo "stage2 $s"; done | xargs -P "$JOBS" -I{} bash -c '{}'

# Evaluate on the validation split: segment (near-online) or refine (offline), then evaluate
# with VIPSeg's windows (1,2,4,6,8) and with the paper's (1,2,4,6).
VAL=$DATA/images
videos=$(sed 's|^|'"$VAL"'/|' "$DATA/val.txt")
for s in $SEEDS; do
  for name in baseline axial divided offline; do
    ckpt=$RUNS/${name}_s$s/model_final.pt
    pred=$WORK/pred/${name}_s$s
    cmd=segment; [ "$name" = offline ] && cmd=refine
    axialvs $cmd $videos -o "$pred" --checkpoint "$ckpt" --task panoptic --threads 2 --overwrite > /dev/null
    axialvs evaluate --dataset vipseg --gt "$DATA/panoptic_gt_VIPSeg_val.json" --pred "$pred" \
      --json "$WORK/scores/${name}_s$s.json" > /dev/null
    axialvs evaluate --dataset vipseg --gt "$DATA/panoptic_gt_VIPSeg_val.json" --pred "$pred" \
      --vpq-windows 1,2,4,6 --json "$WORK/scores/${name}_s${s}_paper.json" > /dev/null
  done
done
python "$(dirname "$0")/ablation_table.py" "$WORK/scores"
