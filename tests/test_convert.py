"""Conversion of official checkpoints: synthetic state dicts with the official key names and
shapes (made from the mapping table) -> convert -> strict load -> run a clip; precise errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from axialvs_cli import convert_api
from axialvs_cli.classes import load_table
from axialvs_cli.main import app
from models.build import build_axialvs
from models.config import get_preset
from models.convert import convert_state_dict, infer_config, invert_keys, read_official_checkpoint
from models.convert_rules import CONVNEXT_BACKBONE, SWIN_BACKBONE, markdown_table, rules_for
from models.errors import CheckpointError
from models.weights import load_checkpoint

TUBE_LINK = get_preset("tubelink-tiny")
# Video-kMaX at CPU size, with a ResNet (the official backbone layout) instead of "small".
VIDEO_KMAX = get_preset("tiny").replace(backbone={"name": "resnet18", "widths": (), "depths": ()})


def official_like(cfg, variant: str, device: str = "cpu") -> dict[str, torch.Tensor]:
    """An official state dict for `cfg`: keys from the mapping table, random values."""
    with torch.device("meta"):
        shapes = {k: (v.shape, v.dtype) for k, v in build_axialvs(cfg).state_dict().items()}
    family = "convnext" if cfg.backbone.name.startswith("convnext") else "resnet"
    official = {}
    for ours, key in invert_keys(list(shapes), variant, family).items():
        shape, dtype = shapes[ours]
        if key in official:
            continue
        if not dtype.is_floating_point:
            official[key] = torch.zeros(shape, dtype=dtype, device=device)
        elif key.endswith("running_var"):
            official[key] = torch.rand(shape, device=device) + 0.5
        else:
            official[key] = 0.1 * torch.randn(shape, device=device)
    return official


def clip(t: int, h: int = 65, w: int = 97) -> torch.Tensor:
    return torch.rand(1, t, 3, h, w) * 255


@pytest.mark.parametrize(
    "cfg,variant", [(TUBE_LINK, "tube-link"), (VIDEO_KMAX, "video-kmax")], ids=["tube-link", "kmax"]
)
def test_convert_load_strictly_and_run_a_clip(cfg, variant: str) -> None:
    torch.manual_seed(0)
    official = official_like(cfg, variant)
    extra = {"pixel_mean": torch.zeros(3, 1, 1), "criterion.empty_weight": torch.ones(125)}
    if variant == "video-kmax":
        official.update(extra)
    official = {"module." + k: v for k, v in official.items()}  # as saved from DDP
    ours, report = convert_state_dict(official, variant, config=cfg)
    model = build_axialvs(cfg).eval()
    model.load_state_dict(ours, strict=True)
    assert len(report.converted) == len(ours)
    assert len(report.dropped) == (2 if variant == "video-kmax" else 0)
    with torch.no_grad():
        out = model.forward_clip(clip(cfg.clip_length))
        refined = model.refine(torch.stack([out.queries, out.queries], dim=1))
    assert out.mask_logits.shape[:3] == (1, out.queries.shape[1], cfg.clip_length)
    assert torch.isfinite(out.mask_logits).all() and torch.isfinite(refined.class_logits).all()


def test_values_land_where_the_table_says() -> None:
    official = official_like(TUBE_LINK, "tube-link")
    ours, _ = convert_state_dict(official, "tube-link", config=TUBE_LINK)
    cls = official["panoptic_head.cls_embed.weight"]
    # the class and mask heads are shared by the segmenter and the cross-clip module
    assert torch.equal(ours["decoder.class_head.weight"], cls)
    assert torch.equal(ours["cross_clip.class_head.weight"], cls)
    gamma = "panoptic_head.pixel_decoder.encoder.layers.1.attentions.0.gamma"
    assert torch.equal(ours["within_clip.blocks.1.gamma"], official[gamma])
    q = "panoptic_head.pixel_decoder.encoder.layers.0.attentions.0.temporal_layer.temporal_layers.0.height_attn.q.weight"
    assert torch.equal(ours["within_clip.blocks.0.temporal.0.height_attn.q.weight"], official[q])
    official = official_like(VIDEO_KMAX, "video-kmax")
    ours, _ = convert_state_dict(official, "video-kmax", config=VIDEO_KMAX)
    assert torch.equal(
        ours["backbone.layer2.0.bn1.running_var"],
        official["backbone.res3.0.conv1.norm.running_var"],
    )
    assert torch.equal(
        ours["pixel_decoder.stages.1.0.attention.width.value_rpe.weight"],
        official[
            "sem_seg_head.pixel_decoder._stages.1._blocks.0._attention._width_axis._value_rpe._embeddings.weight"
        ],
    )


@pytest.mark.parametrize(
    "preset,variant",
    [("tubelink-r50", "tube-link"), ("r50", "video-kmax"), ("convnext-large", "video-kmax")],
)
def test_full_size_official_keys_infer_the_preset_and_convert(preset: str, variant: str) -> None:
    cfg = get_preset(preset)
    official = official_like(cfg, variant, device="meta")  # shapes only
    assert infer_config(official, variant).replace(name=cfg.name) == cfg
    ours, report = convert_state_dict(official, variant)
    assert report.config.name == f"{preset}-official"
    with torch.device("meta"):
        expected = build_axialvs(cfg).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in expected.items()}


def test_near_online_checkpoints_convert_without_the_cross_clip_module() -> None:
    official = official_like(get_preset("tubelink-r50"), "tube-link", device="meta")
    official = {k: v for k, v in official.items() if "conv_norms" not in k and "aggregate" not in k}
    official = {
        k: v
        for k, v in official.items()
        if "trajectory_self" not in k and "activation_proj" not in k
    }
    cfg = infer_config(official, "tube-link")
    assert not cfg.cross_clip.enabled and cfg.within_clip.enabled
    ours, _ = convert_state_dict(official, "tube-link")
    assert not any(k.startswith("cross_clip.") for k in ours)


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_missing_extra_and_misshapen_keys_give_precise_errors() -> None:
    official = official_like(TUBE_LINK, "tube-link")
    removed = dict(official)
    del removed["panoptic_head.query_feat.weight"]
    with pytest.raises(CheckpointError) as err:
        convert_state_dict(removed, "tube-link", config=TUBE_LINK)
    assert one_line(err).endswith(
        "lacks 1 tensor(s) the tubelink-tiny model needs: decoder.query_feat.weight"
    )
    extra = {**official, "panoptic_head.bogus.weight": torch.zeros(3)}
    with pytest.raises(CheckpointError) as err:
        convert_state_dict(extra, "tube-link", config=TUBE_LINK)
    assert (
        one_line(err)
        == "1 official key(s) no tube-link rule accounts for: panoptic_head.bogus.weight"
    )
    wrong = {**official, "panoptic_head.level_embed.weight": torch.zeros(3, 7)}
    with pytest.raises(CheckpointError) as err:
        convert_state_dict(wrong, "tube-link", config=TUBE_LINK)
    assert one_line(err) == (
        "1 shape mismatch(es) (official vs axialvs tubelink-tiny): "
        "panoptic_head.level_embed.weight (3, 7) vs decoder.level_embed.weight (3, 64)"
    )
    with pytest.raises(CheckpointError, match="is it a video-kmax checkpoint"):
        convert_state_dict(official_like(VIDEO_KMAX, "video-kmax"), "tube-link")
    with pytest.raises(CheckpointError, match="unknown variant"):
        convert_state_dict(official, "tubelink")


def test_reading_official_files(tmp_path) -> None:
    sd = {"backbone.conv1.weight": torch.randn(4, 3, 1, 1)}
    torch.save({"model": sd, "iteration": 100}, tmp_path / "d2.pth")  # detectron2
    meta = {"CLASSES": ["a", "b"], "iter": 5}
    torch.save({"state_dict": sd, "meta": meta, "optimizer": {}}, tmp_path / "mm.pth")  # mmdet
    arrays = {"model": {"backbone.conv1.weight": np.ones((4, 3, 1, 1), np.float32)}}
    torch.save(arrays, tmp_path / "numpy.pth")
    with open(tmp_path / "d2.pkl", "wb") as f:
        pickle.dump({**arrays, "__author__": "someone"}, f)
    for name in ("d2.pth", "mm.pth", "numpy.pth", "d2.pkl"):
        state, file_meta = read_official_checkpoint(tmp_path / name)
        assert state["backbone.conv1.weight"].shape == (4, 3, 1, 1), name
    assert read_official_checkpoint(tmp_path / "mm.pth")[1]["CLASSES"] == ["a", "b"]

    class Evil:
        def __reduce__(self):
            return (print, ("this must not run",))

    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"model": {"x": Evil()}}, f)
    with pytest.raises(CheckpointError, match=r"names builtins.print.*can run code"):
        read_official_checkpoint(tmp_path / "evil.pkl")
    with pytest.raises(CheckpointError, match="does not exist"):
        read_official_checkpoint(tmp_path / "nothing.pth")


def test_convert_command_writes_a_checkpoint_with_classes_and_preprocessing(
    tmp_path, monkeypatch
) -> None:
    torch.manual_seed(0)
    source = tmp_path / "ytvis21_r50_maxtron_cc.pth"
    torch.save({"state_dict": official_like(TUBE_LINK, "tube-link"), "meta": {}}, source)
    # the official files are full size; the tiny architecture stands in for it here
    monkeypatch.setattr(convert_api, "infer_config", lambda official, variant: TUBE_LINK)
    out = tmp_path / "model.axialvs.pt"
    args = ["convert", str(source), "-o", str(out), "--variant", "tube-link"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "tensors converted" in result.output and "YouTube-VIS 2021" in result.output
    model, cfg, meta = load_checkpoint(out)
    assert cfg == TUBE_LINK and meta["task"] == "vis"
    assert [c["name"] for c in meta["classes"]] == [
        c["name"] for c in load_table("ytvis2021")["categories"]
    ]
    assert meta["classes"][0] == {"id": 1, "name": "airplane", "isthing": True}
    assert meta["pixel_mean"] == [123.675, 116.28, 103.53]
    assert meta["source"]["file"] == source.name and len(meta["source"]["sha256"]) == 64
    with torch.no_grad():
        assert model.forward_clip(clip(4)).class_logits.shape == (1, 16, 41)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "exists; pass --force" in again.stderr
    wrong = CliRunner().invoke(app, [*args, "--force", "--classes", "vipseg"])
    assert wrong.exit_code == 1 and "has 124 classes but the checkpoint predicts 40" in wrong.stderr


def test_class_tables_and_mapping_docs() -> None:
    vipseg = load_table("vipseg")["categories"]
    assert len(vipseg) == 124 and sum(c["isthing"] for c in vipseg) == 58
    assert [c["id"] for c in vipseg] == list(range(124))
    assert len(load_table("ovis")["categories"]) == 25
    docs = (Path(__file__).parents[1] / "docs" / "CONVERT.md").read_text()
    for rules in (
        rules_for("video-kmax", "resnet"),
        CONVNEXT_BACKBONE,
        rules_for("tube-link", "resnet"),
        SWIN_BACKBONE,
    ):
        assert markdown_table(rules) in docs  # the documented tables are the ones in use
