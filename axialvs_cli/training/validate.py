"""Periodic validation: segment the validation videos and score them with `axialvs evaluate`'s code.

Near-online models (stage 1) segment clip by clip and link the queries of consecutive clips by
Hungarian matching of their mask embeddings; stage-2 models segment offline (queries of all
clips aligned and refined, one class per query per video). VIPSeg: mask-wise panoptic
post-processing (the model config's thresholds), a submission folder, VPQ / STQ. YouTube-VIS /
OVIS: the 10 best (query, class) tracks per video, a results file, track AP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.axialvs import AxialVS
from models.config import AxialVSConfig
from models.matching import align_clips, match_queries

from ..data.vipseg import read_rgb
from ..errors import InputError
from ..evaluation.api import evaluate_vipseg, evaluate_ytvis
from ..formats import rle, vipseg, ytvis
from ..formats._io import load_json
from .config import TrainConfig


def _clips(frames: list[np.ndarray], t: int, device: torch.device) -> list[Tensor]:
    """Non-overlapping clips (1, T, 3, H, W); the last is padded by repeating its last frame."""
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
    pad = (-len(frames)) % t
    if pad:
        x = torch.cat([x, x[-1:].expand(pad, -1, -1, -1)])
    return [x[i : i + t][None].to(device) for i in range(0, len(x), t)]


@torch.no_grad()
def predict(
    model: AxialVS, frames: list[np.ndarray], t: int, offline: bool, device: torch.device
) -> Iterator[tuple[Tensor, Tensor]]:
    """Per clip, one at a time: class logits (N, C+1) and mask logits (N, T, H, W) at frame
    size, in query slots that are consistent over the video. Offline: pass 1 keeps only the
    clips' queries, pass 2 recomputes each clip's pixel features."""
    h, w = frames[0].shape[:2]
    clips = _clips(frames, t, device)

    def up(m: Tensor) -> Tensor:
        return F.interpolate(m[0], size=(h, w), mode="bilinear", align_corners=False)

    if not offline:
        prev = None
        for clip in clips:
            o = model.forward_clip(clip)
            emb = o.match_embeddings[0]
            perm = (
                torch.arange(emb.shape[0], device=device)
                if prev is None
                else match_queries(prev, emb)
            )
            prev = emb[perm]
            yield o.class_logits[0][perm], up(o.mask_logits[:, perm])
        return
    queries, embeddings = [], []
    for clip in clips:
        o = model.forward_clip(clip)
        queries.append(o.queries[0])
        embeddings.append(o.match_embeddings[0])
    perms = align_clips(torch.stack(embeddings))  # K N
    aligned = torch.stack([q[p] for q, p in zip(queries, perms, strict=True)])[None]
    ref = model.refine(aligned)
    for k, clip in enumerate(clips):
        pixels = model.forward_clip(clip).pixel_features
        yield ref.class_logits[0], up(model.decode_masks(ref.mask_kernels[:, k], pixels))


def panoptic(
    cls: Tensor, masks: Tensor, things: set[int], cfg: AxialVSConfig, offline: bool, ids: dict
) -> Tensor:
    """Mask-wise panoptic maps (T, H, W) of one clip; `ids` maps (slot, class) / class -> id."""
    inf = cfg.inference
    stuff_thr = inf.stuff_threshold_offline if offline else inf.stuff_threshold
    pix_thr = inf.pixel_threshold_offline if offline else inf.pixel_threshold
    score, label = cls.softmax(-1)[:, :-1].max(-1)
    probs = masks.softmax(0)
    binary = probs > pix_thr
    area = binary.flatten(1).sum(1)
    quality = (probs * binary).flatten(1).sum(1) / area.clamp(min=1)
    out = torch.zeros(masks.shape[1:], dtype=torch.int64, device=masks.device)
    for q in torch.argsort(score * quality, descending=True).tolist():
        c = int(label[q])
        thing = c in things
        if score[q] <= (inf.thing_threshold if thing else stuff_thr) or area[q] == 0:
            continue
        new = binary[q] & (out == 0)
        if new.sum() <= inf.overlap_threshold * area[q]:
            continue
        key = (q, c) if thing else c
        ids.setdefault(key, len(ids) + 1)
        out[new] = ids[key]
    return out


def validate(
    model: AxialVS,
    model_cfg: AxialVSConfig,
    cfg: TrainConfig,
    classes: list[dict],
    device: torch.device,
    step: int,
) -> dict[str, Any]:
    """Segment the validation set with `model`, writing predictions under OUT/val/step_<step>/,
    and return the benchmark numbers."""
    model.eval()
    folder = cfg.out / "val" / f"step_{step:07d}"
    offline = cfg.stage == 2
    if cfg.data.format == "vipseg":
        return _vipseg(model, model_cfg, cfg, classes, device, folder, offline)
    return _ytvis(model, model_cfg, cfg, classes, device, folder, offline)


def _vipseg(model, model_cfg, cfg, classes, device, folder: Path, offline: bool) -> dict[str, Any]:
    val = cfg.data.val
    json_path = val if val.is_file() else val / f"panoptic_gt_VIPSeg_{cfg.data.val_split}.json"
    gt = vipseg.read_ground_truth(json_path)
    index = {c["id"]: i for i, c in enumerate(classes)}
    if set(index) != {c.id for c in gt.categories}:
        raise InputError(f"{json_path}: its categories differ from the training data's")
    things = {index[c["id"]] for c in classes if c["isthing"]}
    writer = vipseg.PanopticWriter(folder, "submission")
    for vid, frames in gt.videos.items():
        images = [
            read_rgb(json_path.parent / "images" / str(vid) / (Path(f.file_name).stem + ".jpg"))
            for f in frames
        ]
        ids: dict = {}  # (slot, class) of things / class of stuff -> segment id
        done = 0
        for c, m in predict(model, images, model_cfg.clip_length, offline, device):
            maps = panoptic(c, m, things, model_cfg, offline, ids).to(torch.int32).cpu().numpy()
            category = {
                sid: classes[k[1] if isinstance(k, tuple) else k]["id"] for k, sid in ids.items()
            }
            for m_t in maps[: len(frames) - done]:  # the last clip may be padded
                writer.add_frame(vid, frames[done].file_name, m_t.astype(np.uint32), category)
                done += 1
    writer.close()
    shortest = min(len(f) for f in gt.videos.values())
    windows = tuple(n for n in (1, 2, 4, 6) if n <= shortest)  # the paper's VPQ windows
    r = evaluate_vipseg(json_path, folder, windows=windows, warn=lambda msg: None)
    return {k: r.get(k) for k in ("VPQ", "VPQ_th", "VPQ_st", "STQ", "AQ", "SQ")}


def _ytvis(model, model_cfg, cfg, classes, device, folder: Path, offline: bool) -> dict[str, Any]:
    val = cfg.data.val
    gt = ytvis.read_ground_truth(val)
    files = {int(v["id"]): v["file_names"] for v in load_json(val, "annotation JSON")["videos"]}
    root = cfg.data.val_image_root or val.parent / "JPEGImages"
    entries = []
    for vid in gt.videos:
        images = [read_rgb(root / name) for name in files[vid]]
        probs_sum: Tensor | None = None
        per_slot: list[list[dict]] = []
        clips = 0
        for c, m in predict(model, images, model_cfg.clip_length, offline, device):
            p = c.softmax(-1)[:, :-1]
            probs_sum = p if probs_sum is None else probs_sum + p
            clips += 1
            keep = m.sigmoid() > 0.5 if cfg.loss.mode == "m2f" else (m.softmax(0) > 0.5)
            per_slot = per_slot or [[] for _ in range(keep.shape[0])]
            for q in range(keep.shape[0]):
                per_slot[q].extend(rle.encode(x) for x in keep[q].cpu().numpy())
        probs = probs_sum / clips  # N C, mean over the clips
        top = torch.topk(probs.flatten(), min(10, probs.numel())).indices.tolist()
        for flat in top:
            q, c = divmod(flat, probs.shape[1])
            segs = per_slot[q][: len(images)]
            entries.append(
                {
                    "video_id": vid,
                    "category_id": classes[c]["id"],
                    "score": float(probs[q, c]),
                    "segmentations": segs,
                }
            )
    path = ytvis.write_results(folder / "results.json", entries)
    r = evaluate_ytvis(val, path, warn=lambda msg: None)
    return {k: r.get(k) for k in ("AP", "AP50", "AP75", "AR1", "AR10")}
