"""`axialvs train`: train stage 1 (clip segmenter + within-clip tracking) or stage 2 (cross-clip)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError


class DataFormat(str, Enum):
    vipseg = "vipseg"
    ytvis = "ytvis"
    camvid = "camvid"


HELP = """Train an Axial-VS model.

Stage 1 trains the clip segmenter with the within-clip tracking module on clips of T frames (the near-online model). Stage 2 starts from a stage-1 checkpoint (--init), freezes the segmenter and the within-clip module, and trains only the cross-clip tracking module on videos of K clips (the offline model).

Defaults come from a recipe: the paper's for the r50 / convnext-large presets (VIPSeg: 769x1345 crops, global batch 32, 40k steps; stage 2: 12 clips of 2 frames, batch 16, 15k steps) and a small CPU-friendly one for the tiny preset. Batch sizes are global: with torchrun every process takes batch-size / processes items.

Several GPUs: torchrun --nproc-per-node 8 -m axialvs_cli train ... runs DDP (nccl on GPUs, gloo on CPUs); on several machines add --nnodes, --node-rank, --master-addr and --master-port to torchrun. Rank 0 writes OUT/log.jsonl, OUT/last.pt with OUT/last_state.pt (for --resume), snapshots OUT/model_<step>.pt and OUT/model_final.pt.
"""

EXAMPLES = """Examples:

  axialvs synth --out data/synth --videos 16 --frames 24 --size 144x256

  axialvs train --data data/synth --out runs/tiny1 --preset tiny --steps 500

  axialvs train --stage 2 --init runs/tiny1/model_final.pt --data data/synth --out runs/tiny2

  torchrun --nproc-per-node 8 -m axialvs_cli train --data VIPSeg/VIPSeg_720P --out runs/r50 --preset r50
"""


def train(
    data: Annotated[
        Path,
        typer.Option(
            help="vipseg: the VIPSeg_720P folder (or its panoptic_gt_VIPSeg_<split>.json); ytvis: the annotation JSON (YouTube-VIS 2019/2021/2022, OVIS); camvid: the CamVid folder of the SegNet tutorial."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Run folder: log.jsonl, checkpoints, config.json.")],
    stage: Annotated[
        int,
        typer.Option(
            min=1,
            max=2,
            help="1: clip segmenter + within-clip tracking; 2: cross-clip tracking only (needs --init).",
        ),
    ] = 1,
    data_format: Annotated[
        DataFormat, typer.Option("--format", help="Data set format.")
    ] = DataFormat.vipseg,
    preset: Annotated[
        str,
        typer.Option(
            help="Model preset for stage 1 (tiny, r50, convnext-large); stage 2 takes the model of --init."
        ),
    ] = "tiny",
    init: Annotated[
        Path | None, typer.Option(help="Start from these weights (stage 2: a stage-1 checkpoint).")
    ] = None,
    backbone_init: Annotated[
        Path | None,
        typer.Option(
            help="Stage 1: ImageNet weights for the backbone: an EfficientNet-Lite0 state dict "
            "(efficientnet_pytorch layout), a torchvision ResNet or a timm ConvNeXt state dict."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run in --out from its last checkpoint (pass the same options)."
        ),
    ] = False,
    split: Annotated[
        str | None,
        typer.Option(
            help="vipseg: the split whose JSON to read (default train); camvid: train, val, test or e.g. train+val."
        ),
    ] = None,
    image_root: Annotated[
        Path | None,
        typer.Option(help="ytvis: frame folder (default: JPEGImages next to the JSON)."),
    ] = None,
    val: Annotated[
        Path | None,
        typer.Option(
            help="Validation data (same format); scored with `axialvs evaluate`'s code every --val-every steps."
        ),
    ] = None,
    val_split: Annotated[
        str | None, typer.Option(help="vipseg: validation split (default val).")
    ] = None,
    val_image_root: Annotated[
        Path | None, typer.Option(help="ytvis: validation frame folder.")
    ] = None,
    steps: Annotated[
        int | None, typer.Option(min=1, help="Training steps (recipe default).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Global batch size (clips or videos per step).")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Base learning rate (AdamW).")] = None,
    warmup: Annotated[
        int | None, typer.Option(min=0, help="Linear warm-up steps before the poly decay.")
    ] = None,
    weight_decay: Annotated[
        float | None, typer.Option(min=0.0, help="AdamW weight decay (0.05).")
    ] = None,
    backbone_lr_mult: Annotated[
        float | None, typer.Option(help="Learning-rate factor of the backbone (0.1).")
    ] = None,
    temporal_lr_mult: Annotated[
        float | None, typer.Option(help="Factor of the within-clip temporal layers (2.0).")
    ] = None,
    head_lr_mult: Annotated[
        float | None, typer.Option(help="Stage 2: factor of the cross-clip heads (0.1).")
    ] = None,
    clip_grad: Annotated[
        float | None, typer.Option(min=0.0, help="Clip the global gradient norm to this (0 = off).")
    ] = None,
    clip_length: Annotated[
        int | None, typer.Option(min=1, help="Frames per clip T (VPS 2, VIS 4).")
    ] = None,
    clips: Annotated[
        int | None, typer.Option(min=1, help="Stage 2: clips per training video K (VIPSeg 12).")
    ] = None,
    sampling_range: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Stage 1: largest gap between neighbouring frames of a clip (paper Table 7b; 1 = consecutive).",
        ),
    ] = None,
    random_reverse: Annotated[
        bool | None,
        typer.Option(help="Reverse sampled frames with probability 1/2 (stage-2 default)."),
    ] = None,
    crop: Annotated[str | None, typer.Option(help="Training crop HxW, e.g. 769x1345.")] = None,
    scale: Annotated[
        str | None,
        typer.Option(help="Random resize range MIN,MAX relative to the crop (VIPSeg 0.3,1.7)."),
    ] = None,
    short_sides: Annotated[
        str | None,
        typer.Option(
            help="VIS-style: resize the shorter side to one of these, e.g. 288,320,...,512."
        ),
    ] = None,
    flip: Annotated[bool | None, typer.Option(help="Random horizontal flip.")] = None,
    color_jitter: Annotated[
        bool | None, typer.Option(help="Random brightness / contrast / saturation.")
    ] = None,
    class_weight: Annotated[
        float | None, typer.Option(min=0.0, help="Loss weight of the class term (VPS 4.0).")
    ] = None,
    mask_weight: Annotated[
        float | None, typer.Option(min=0.0, help="Mask cross-entropy weight (VPS 0.1; stage 2 0).")
    ] = None,
    dice_weight: Annotated[
        float | None, typer.Option(min=0.0, help="Dice weight (VPS 5.0; stage 2 4.0).")
    ] = None,
    insdis_weight: Annotated[
        float | None, typer.Option(min=0.0, help="Pixel instance-discrimination weight (VPS 1.0).")
    ] = None,
    semantic_weight: Annotated[
        float | None, typer.Option(min=0.0, help="Auxiliary semantic loss weight (VPS 1.0).")
    ] = None,
    category_weights: Annotated[
        str | None,
        typer.Option(
            help="Per-class loss factors: auto (CamVid: sqrt of median-frequency balancing, "
            "in [1, 4]), none, or one number per class, e.g. 1,1,2.5,... (default none).",
        ),
    ] = None,
    paste_people: Annotated[
        Path | None,
        typer.Option(
            help="camvid: paste people cut out of this Penn-Fudan pedestrian folder "
            "(PNGImages/, PedMasks/) into training frames, up to the frame's height, as "
            "Pedestrian (close-up people CamVid lacks).",
        ),
    ] = None,
    paste_prob: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="With --paste-people: share of items that get people (0.5)."
        ),
    ] = None,
    paste_bicyclists: Annotated[
        bool | None,
        typer.Option(
            help="camvid: paste the split's own cyclists (60 px or taller), enlarged to "
            "0.15-0.6 of the frame height, into half of the training items (keeps riders "
            "Bicyclist when --paste-people teaches close-up Pedestrian).",
        ),
    ] = None,
    ckpt_every: Annotated[
        int | None, typer.Option(min=1, help="Write a checkpoint every N steps.")
    ] = None,
    val_every: Annotated[
        int | None,
        typer.Option(min=0, help="With --val: validate every N steps and at the end (0 = never)."),
    ] = None,
    log_every: Annotated[int, typer.Option(min=1, help="Log the mean losses every N steps.")] = 10,
    workers: Annotated[
        int, typer.Option(min=0, help="Data-loading processes per training process.")
    ] = 2,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    threads: Annotated[
        int, typer.Option(min=0, help="CPU threads per process (0 = torch's default).")
    ] = 0,
    amp: Annotated[bool, typer.Option(help="Mixed precision on CUDA (never on the CPU).")] = True,
    sync_bn: Annotated[bool, typer.Option(help="Synchronise batch norms across GPUs.")] = True,
    copy_heads: Annotated[
        bool, typer.Option(help="Stage 2: start the cross-clip heads from the segmenter's.")
    ] = True,
    precise_bn: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Re-estimate batch-norm statistics on N training batches before each "
            "checkpoint and validation (tiny recipe, stage 1: 20; otherwise 0).",
        ),
    ] = None,
    freeze_bn: Annotated[
        bool,
        typer.Option(
            help="Stage 2: keep the cross-clip heads' batch-norm statistics (copied from the "
            "segmenter) fixed; --no-freeze-bn uses batch statistics as the reference code does."
        ),
    ] = True,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    overwrite: Annotated[
        bool, typer.Option(help="Start afresh in an --out that holds a run.")
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Stage 1: change the preset, KEY=VALUE (repeatable), e.g. "
            "within_clip.temporal_attention=divided, within_clip.enabled=false (the clip-level "
            "baseline), cross_clip.num_layers=2. Keys are fields of models.config.",
        ),
    ] = None,
) -> None:
    from ..training.config import build_config  # here: keeps `axialvs --help` fast
    from ..training.loop import train as run_training

    overrides = dict(
        backbone_init=backbone_init, resume=resume, split=split, image_root=image_root, val=val, val_split=val_split,
        val_image_root=val_image_root, steps=steps, batch_size=batch_size, lr=lr, warmup=warmup,
        weight_decay=weight_decay, backbone_lr_mult=backbone_lr_mult, temporal_lr_mult=temporal_lr_mult,
        head_lr_mult=head_lr_mult, clip_grad=clip_grad, clip_length=clip_length, clips=clips,
        sampling_range=sampling_range, random_reverse=random_reverse, crop=crop, scale=scale,
        short_sides=short_sides, flip=flip, color_jitter=color_jitter, class_weight=class_weight,
        mask_weight=mask_weight, dice_weight=dice_weight, insdis_weight=insdis_weight,
        semantic_weight=semantic_weight, category_weights=category_weights, paste_people=paste_people, paste_prob=paste_prob, paste_bicyclists=paste_bicyclists, ckpt_every=ckpt_every, val_every=val_every,
        log_every=log_every, workers=workers, threads=threads, device=device, amp=amp, sync_bn=sync_bn,
        copy_heads=copy_heads, precise_bn=precise_bn, freeze_bn=freeze_bn, seed=seed, progress=progress, overwrite=overwrite,
        model_overrides=set_ or None,
    )  # fmt: skip
    try:
        cfg = build_config(
            data=data,
            out=out,
            stage=stage,
            fmt=data_format.value,
            preset=preset,
            init=init,
            overrides=overrides,
        )
    except ValueError as err:
        raise InputError(str(err)) from None
    result = run_training(cfg)
    if result.checkpoint:
        last = next((h for h in reversed(result.history) if "loss" in h), None)
        loss = f", last loss {last['loss']:.4f}" if last else ""
        typer.echo(f"Trained stage {cfg.stage} for {result.step} steps{loss}.")
        typer.echo(f"Weights: {result.checkpoint}   log: {cfg.out / 'log.jsonl'}")


train.__doc__ = HELP + "\n" + EXAMPLES
