#!/usr/bin/env bash
# Regenerates the figures of docs/ on a synthetic validation video (`axialvs synth`):
#   render_example.png       its ground truth drawn by `axialvs render`
#   render_side_by_side.png  a model's segmentation | the ground truth (needs a model)
#   attention_example.png    `axialvs visualize-attention` at a person (needs a model)
#
#   bash docs/make_figures.sh [CHECKPOINT]     (default: the shipped synthetic model, whose
#                                               classes are those of the synthetic video)
set -euo pipefail
DOCS=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FRAME=4

axialvs synth --out "$WORK/data" --videos 1 --frames 8 --size 144x256 --seed 1 --split val
VIDEO=$WORK/data/images/val_0000
GT=$WORK/data/panoptic_gt_VIPSeg_val.json

# 1. The ground truth drawn as a prediction (stuff in class colours, things per track).
axialvs render "$VIDEO" --pred "$WORK/data" --frames $FRAME --frames-dir "$WORK/gt"
cp "$WORK/gt/0000000$FRAME.png" "$DOCS/render_example.png"

# 2. With a model: segment (and its overlay video) in one pass, then prediction | ground truth.
CKPT=${1:-$(python -c 'from axialvs_cli.inference.device import shipped_checkpoints as s; print(s().get("synthetic", ""))')}
if [ -z "$CKPT" ]; then
  echo "no checkpoint given and the synthetic model is not installed: render_example.png only" >&2
  exit 0
fi
axialvs segment "$VIDEO" -o "$WORK/seg" --checkpoint "$CKPT" --task panoptic --render
axialvs render "$VIDEO" --pred "$WORK/seg" --classes "$GT" --side-by-side "$WORK/data" \
  --frames $FRAME --frames-dir "$WORK/sbs"
cp "$WORK/sbs/0000000$FRAME.png" "$DOCS/render_side_by_side.png"

# 3. Attention of a point at the centre of the largest person in that frame.
POINT=$(python - "$GT" "$WORK/data/panomasksRGB/val_0000" $FRAME <<'EOF'
import json, sys
from pathlib import Path
import numpy as np
from axialvs_cli.formats.palette import read_id_png
gt = json.load(open(sys.argv[1]))
person = {c["id"] for c in gt["categories"] if c["name"] == "person"}
t = int(sys.argv[3])
ids = read_id_png(Path(sys.argv[2]) / f"{t:08d}.png")
frame = gt["annotations"][0]["annotations"][t]
segs = [s for s in frame["segments_info"] if s["category_id"] in person]
ys, xs = np.nonzero(ids == max(segs, key=lambda s: s["area"])["id"])
print(f"{int(xs.mean())},{int(ys.mean())}")
EOF
)
# (A model without within-clip tracking has no such attention: the figure is skipped.)
axialvs visualize-attention "$VIDEO" --ref-point "$POINT" --frame $FRAME --checkpoint "$CKPT" \
  -o "$DOCS/attention_example.png" || echo "attention_example.png not made" >&2

# Keep every figure under 300 KB: the noisy synthetic textures make large PNGs, so a larger one
# is stored with a 256-colour palette (octree, no dithering: the red reference point stays).
python - "$DOCS"/render_example.png "$DOCS"/render_side_by_side.png "$DOCS"/attention_example.png <<'EOF'
import os, sys
from PIL import Image
for path in filter(os.path.exists, sys.argv[1:]):
    if os.path.getsize(path) > 300_000:
        image = Image.open(path).convert("RGB")
        image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            path, optimize=True
        )
    os.chmod(path, 0o644)
    print(f"{path}: {os.path.getsize(path) // 1024} KB")
EOF
