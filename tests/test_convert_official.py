"""Conversion of state dicts with exactly the keys, shapes and dtypes of the released official
checkpoints (`official_checkpoints/*.json` of the test data; random values), and of the
ConvNeXt-V2-L and Swin-L files built from their official key layouts.

The key lists were read off the official modules, not off our mapping table, so a wrong row of
the table fails here. The folder is `$AXIALVS_TEST_DATA/official_checkpoints` (default
/work/shared/data); the tests are skipped when it is absent.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from axialvs_cli.classes import load_table
from axialvs_cli.main import app
from models.build import build_axialvs
from models.convert import convert_state_dict, official_clip_length
from models.weights import load_checkpoint

DATA = Path(os.environ.get("AXIALVS_TEST_DATA", "/work/shared/data")) / "official_checkpoints"
needs_lists = pytest.mark.skipif(
    not (DATA / "video_kmax.json").exists(), reason=f"official key lists not found in {DATA}"
)


def key_lists() -> dict[str, tuple[str, dict]]:
    if not (DATA / "video_kmax.json").exists():
        return {}
    out = {}
    for file, variant in (("video_kmax.json", "video-kmax"), ("tube_link.json", "tube-link")):
        for entry, keys in json.loads((DATA / file).read_text()).items():
            out[entry] = (variant, keys)
    return out


LISTS = key_lists()


class Values:
    """Random tensors that share two storages, so that files stay small on disk."""

    def __init__(self, largest: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.small = 0.02 * torch.randn(largest, generator=g)
        self.ones = torch.ones(largest)

    def __call__(self, key: str, shape: list[int], dtype: str) -> torch.Tensor:
        n = 1
        for s in shape:
            n *= s
        if dtype != "float32":
            return torch.zeros(shape, dtype=getattr(torch, dtype))
        source = self.ones if key.endswith(("running_var", "norm.weight")) else self.small
        return source[:n].view(shape)


def state_from(keys: dict[str, dict]) -> dict[str, torch.Tensor]:
    largest = max(max(1, _numel(v["shape"])) for v in keys.values())
    values = Values(largest)
    return {k: values(k, v["shape"], v["dtype"]) for k, v in keys.items()}


def _numel(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def swin_large_layout(head: dict[str, dict]) -> dict[str, dict]:
    """The key list of a Tube-Link Swin-L file: mmdetection's `SwinTransformer` keys written
    out from its layout (embed 192, depths 2/2/18/2, heads 6/12/24/48, window 12), and the
    head of an R50 file with the pixel decoder's input widths of Swin-L."""
    f32 = "float32"
    keys = {
        "backbone.patch_embed.projection.weight": [192, 3, 4, 4],
        "backbone.patch_embed.projection.bias": [192],
        "backbone.patch_embed.norm.weight": [192],
        "backbone.patch_embed.norm.bias": [192],
    }
    dims, depths, heads = (192, 384, 768, 1536), (2, 2, 18, 2), (6, 12, 24, 48)
    out: dict[str, dict] = {k: {"shape": v, "dtype": f32} for k, v in keys.items()}
    for i, (d, depth, h) in enumerate(zip(dims, depths, heads, strict=True)):
        for j in range(depth):
            p = f"backbone.stages.{i}.blocks.{j}."
            block = {
                "norm1.weight": [d], "norm1.bias": [d],
                "attn.w_msa.relative_position_bias_table": [23 * 23, h],
                "attn.w_msa.qkv.weight": [3 * d, d], "attn.w_msa.qkv.bias": [3 * d],
                "attn.w_msa.proj.weight": [d, d], "attn.w_msa.proj.bias": [d],
                "norm2.weight": [d], "norm2.bias": [d],
                "ffn.layers.0.0.weight": [4 * d, d], "ffn.layers.0.0.bias": [4 * d],
                "ffn.layers.1.weight": [d, 4 * d], "ffn.layers.1.bias": [d],
            }  # fmt: skip
            out.update({p + k: {"shape": v, "dtype": f32} for k, v in block.items()})
            out[p + "attn.w_msa.relative_position_index"] = {"shape": [144, 144], "dtype": "int64"}
        if i < 3:
            p = f"backbone.stages.{i}.downsample."
            out[p + "norm.weight"] = {"shape": [4 * d], "dtype": f32}
            out[p + "norm.bias"] = {"shape": [4 * d], "dtype": f32}
            out[p + "reduction.weight"] = {"shape": [2 * d, 4 * d], "dtype": f32}
        out[f"backbone.norm{i}.weight"] = {"shape": [d], "dtype": f32}
        out[f"backbone.norm{i}.bias"] = {"shape": [d], "dtype": f32}
    widths = {
        "input_convs.0": 1536,
        "input_convs.1": 768,
        "input_convs.2": 384,
        "lateral_convs.0": 192,
    }
    for k, v in head.items():
        if k.startswith("backbone."):
            continue
        v = dict(v, shape=list(v["shape"]))
        for name, c in widths.items():
            if k == f"panoptic_head.pixel_decoder.{name}.conv.weight":
                v["shape"][1] = c
        out[k] = v
    return out


def convnextv2_layout(v1: dict[str, dict]) -> dict[str, dict]:
    """A ConvNeXt-V2-L Video-kMaX key list from the ConvNeXt-L one: every block loses its layer
    scale (`gamma`) and gains `grn.gamma` / `grn.beta` of shape (1, 1, 1, 4 * dim)."""
    out = {}
    for k, v in v1.items():
        m = re.fullmatch(r"(backbone\.stages\.\d+\.\d+\.)gamma", k)
        if m:
            dim = v["shape"][0]
            for p in ("gamma", "beta"):
                out[f"{m.group(1)}grn.{p}"] = {"shape": [1, 1, 1, 4 * dim], "dtype": "float32"}
            continue
        out[k] = v
    return out


def all_entries() -> dict[str, tuple[str, dict]]:
    entries = dict(LISTS)
    if "maxtron_cc_convnext_large" in LISTS:
        entries["maxtron_cc_convnextv2_large (layout)"] = (
            "video-kmax",
            convnextv2_layout(LISTS["maxtron_cc_convnext_large"][1]),
        )
    if "ytvis21_r50_cc" in LISTS:
        entries["ytvis21_swin_l_cc (layout)"] = (
            "tube-link",
            swin_large_layout(LISTS["ytvis21_r50_cc"][1]),
        )
    return entries


ENTRIES = all_entries()
EXPECTED_PRESET = {
    "maxtron_wc_r50": "r50", "maxtron_cc_r50": "r50",
    "maxtron_wc_convnext_large": "convnext-large", "maxtron_cc_convnext_large": "convnext-large",
    "maxtron_cc_convnextv2_large (layout)": "convnextv2-large",
    "ytvis21_swin_l_cc (layout)": "tubelink-swin-large",
}  # fmt: skip


@needs_lists
@pytest.mark.parametrize("entry", sorted(ENTRIES) or ["none"])
def test_every_official_key_list_converts_loads_strictly_and_segments_a_clip(entry: str) -> None:
    variant, keys = ENTRIES[entry]
    official = state_from(keys)
    state, report = convert_state_dict(official, variant)
    cfg = report.config
    preset = EXPECTED_PRESET.get(entry, "tubelink-r50")
    assert cfg.name == f"{preset}-official"
    assert cfg.cross_clip.enabled == ("_cc" in entry)
    assert len(report.converted) + len(report.dropped) >= len(state)
    model = build_axialvs(cfg).eval()
    model.load_state_dict(state, strict=True)
    t = cfg.clip_length
    clip = torch.rand(1, t, 3, 65, 97) * 255
    with torch.no_grad():
        out = model.forward_clip(clip)
    n = cfg.decoder.num_queries if cfg.segmenter == "kmax" else cfg.mask2former.num_queries
    assert out.class_logits.shape == (1, n, cfg.num_classes + 1)
    assert out.mask_logits.shape[:3] == (1, n, t)
    assert torch.isfinite(out.mask_logits).all()
    if variant == "video-kmax":  # the official computation: TF-style eps, stacked pixel heads
        assert cfg.decoder.stacked_pixel_head and cfg.pixel_decoder.corners == "source"
        if cfg.backbone.name == "resnet50":
            assert cfg.backbone.norm_eps == 1e-3
    if cfg.cross_clip.enabled:
        with torch.no_grad():
            refined = model.refine(torch.stack([out.queries] * 3, dim=1))
        assert refined.class_logits.shape == (1, n, cfg.num_classes + 1)


MMDET_CONFIG = """model = dict(
    type='{model}',
    panoptic_head=dict(
        type='{head}',
        num_queries=100,
        train_num_frames={train},{clips}
        test_num_frames={test},
        num_transformer_feat_level=3))
data = dict(test=dict(type='YouTubeVISDataset', dataset_version='{version}'))
"""


def mmdet_meta(entry: str) -> dict:
    """What an mmdetection file of the official configs carries in `meta`."""
    offline = entry.endswith("_cc")
    ovis = entry.startswith("ovis")
    test = 4 if ovis else (3 if offline else 5)
    train = (24 if ovis else 9) if offline else test
    text = MMDET_CONFIG.format(
        model="TubeLinkVideoVIS" if offline else "TubeLinkVIS",
        head="Mask2FormerVideoCCHeadTube" if offline else "Mask2FormerVideoHeadTube",
        train=train,
        clips=f"\n        train_num_clips={6 if ovis else 3}," if offline else "",
        test=test,
        version="ovis" if ovis else "2021",
    )
    names = [c["name"] for c in load_table("ovis" if ovis else "ytvis2021")["categories"]]
    return {"config": text, "CLASSES": tuple(names), "mmdet_version": "2.25.0"}


def test_clip_length_is_read_from_the_config_text() -> None:
    assert official_clip_length(mmdet_meta("ytvis21_r50_wc")) == 5
    assert official_clip_length(mmdet_meta("ytvis21_r50_cc")) == 3
    assert official_clip_length(mmdet_meta("ovis_r50_cc")) == 4
    assert official_clip_length({}) is None
    assert official_clip_length({"config": "test_num_frames=5\nx=dict(test_num_frames=6)"}) is None


@needs_lists
@pytest.mark.parametrize(
    "entry,frames,table",
    [
        ("ytvis21_r50_wc", 5, "ytvis2021"),
        ("ytvis21_r50_cc", 3, "ytvis2021"),
        ("ovis_r50_cc", 4, "ovis"),
    ],
)
def test_convert_command_takes_clip_length_and_classes_from_the_file(
    tmp_path, entry: str, frames: int, table: str
) -> None:
    variant, keys = LISTS[entry]
    source = tmp_path / f"{entry}.pth"
    torch.save({"state_dict": state_from(keys), "meta": mmdet_meta(entry)}, source)
    out = tmp_path / "model.axialvs.pt"
    result = CliRunner().invoke(app, ["convert", str(source), "-o", str(out), "--variant", variant])
    assert result.exit_code == 0, result.output
    assert f"clips of {frames} frames" in result.output
    _, cfg, meta = load_checkpoint(out)
    assert cfg.clip_length == frames
    assert [c["name"] for c in meta["classes"]] == [
        c["name"] for c in load_table(table)["categories"]
    ]
    # a flag still wins over the file
    again = CliRunner().invoke(
        app,
        [
            "convert",
            str(source),
            "-o",
            str(out),
            "--variant",
            variant,
            "--clip-length",
            "2",
            "--force",
        ],
    )
    assert again.exit_code == 0, again.output
    assert load_checkpoint(out)[1].clip_length == 2


@needs_lists
def test_a_class_list_no_table_knows_is_recorded_from_the_file(tmp_path) -> None:
    variant, keys = LISTS["ovis_r50_wc"]
    meta = mmdet_meta("ovis_r50_wc")
    meta["CLASSES"] = tuple(f"kind {i}" for i in range(25))
    source = tmp_path / "custom.pth"
    torch.save({"state_dict": state_from(keys), "meta": meta}, source)
    out = tmp_path / "model.axialvs.pt"
    result = CliRunner().invoke(app, ["convert", str(source), "-o", str(out), "--variant", variant])
    assert result.exit_code == 0, result.output
    classes = load_checkpoint(out)[2]["classes"]
    assert classes[0] == {"id": 1, "name": "kind 0", "isthing": True} and len(classes) == 25


def coco_kmax_layout(video: dict[str, dict], msda: bool) -> dict[str, dict]:
    """A COCO kMaX-DeepLab key list (133 classes) from the VIPSeg R50 near-online one: no
    temporal layers, the layers' predictor spelled `_predcitor` as in kMaX-DeepLab, and with
    `msda` the spatial MSDeformAttn encoder (`wc_module`) of the "+ MSDA" checkpoints."""
    out = {}
    for k, v in video.items():
        if "temporal_layers" in k or "level_embed_3d" in k or (not msda and "wc_module" in k):
            continue
        v = dict(v, shape=list(v["shape"]))
        if "_transformer_class_head.conv" in k or "final_conv.conv" in k:
            v["shape"][0] = 134
        if "_kmax_transformer_layers" in k:
            k = k.replace("._predictor.", "._predcitor.")
        out[k] = v
    return out


@needs_lists
@pytest.mark.parametrize("msda", [False, True], ids=["kmax-r50", "kmax-msda-r50"])
def test_coco_kmax_deeplab_checkpoints_convert_into_training_initialisations(
    tmp_path, msda: bool
) -> None:
    keys = coco_kmax_layout(LISTS["maxtron_wc_r50"][1], msda)
    source = tmp_path / "kmax_r50_coco.pth"
    torch.save({"model": state_from(keys)}, source)
    out = tmp_path / "init.axialvs.pt"
    args = ["convert", str(source), "-o", str(out), "--variant", "video-kmax"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    model, cfg, meta = load_checkpoint(out)
    assert cfg.num_classes == 133 and meta["trained_on"].startswith("COCO panoptic")
    assert cfg.within_clip.enabled == msda and cfg.within_clip.temporal_attention == "none"
    assert sum(c["isthing"] for c in meta["classes"]) == 80
    assert not cfg.cross_clip.enabled
