"""`axialvs train` on synthetic data: a few steps, resume, and stage 2's frozen segmenter."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from axialvs_cli.data.synth import SynthConfig, generate
from axialvs_cli.main import app
from axialvs_cli.training.config import build_config
from axialvs_cli.training.distributed import DistInfo
from axialvs_cli.training.loop import _Trainer, train
from models.weights import load_checkpoint

SMALL = dict(
    crop="65x97", batch_size=1, workers=0, progress=False, log_every=1, device="cpu", overwrite=True
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run faster on one thread, and much faster when other jobs share the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    generate(root, SynthConfig(videos=2, frames=6, size=(72, 112), seed=0, split="train"))
    generate(root, SynthConfig(videos=1, frames=4, size=(72, 112), seed=1, split="val"))
    return root


def _cfg(data: Path, out: Path, stage: int = 1, init: Path | None = None, **options):
    return build_config(
        data=data,
        out=out,
        stage=stage,
        fmt="vipseg",
        preset="tiny",
        init=init,
        overrides={**SMALL, **options},
    )


@pytest.fixture(scope="module")
def stage1(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stage1")
    result = train(_cfg(data, out, steps=2, ckpt_every=2))
    assert result.step == 2
    return out


def test_cli_trains_logs_and_validates(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--steps", "2", "--crop", "65x97", "--batch-size", "1",
            "--workers", "0", "--log-every", "1", "--no-progress", "--device", "cpu", "--precise-bn", "2", "--val", str(data), "--val-every", "2"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    losses = [r for r in records if "loss" in r]
    assert [r["step"] for r in losses] == [1, 2] and all(math.isfinite(r["loss"]) for r in losses)
    assert {"class", "mask", "dice", "insdis", "semantic", "lr", "s_per_step"} <= set(losses[0])
    val = [r for r in records if "val" in r]
    assert len(val) == 1 and set(val[0]["val"]) >= {"VPQ", "STQ"}
    assert (out / "val" / "step_0000002" / "pred.json").is_file()
    model, cfg, meta = load_checkpoint(out / "model_final.pt")
    assert cfg.num_classes == 8 and [c["name"] for c in meta["classes"]][4] == "person"
    assert meta["stage"] == 1 and meta["step"] == 2 and meta["dataset"] == "vipseg"
    again = CliRunner().invoke(app, args[:-4])
    assert again.exit_code == 1 and "--resume" in again.stderr
    help_text = CliRunner().invoke(app, ["train", "--help"]).output
    assert "Stage 1" in help_text and "Stage 2" in help_text and "torchrun" in help_text


def test_resume_continues_from_the_saved_step(data: Path, stage1: Path) -> None:
    saved = torch.load(stage1 / "last_state.pt", weights_only=True)
    trainer = _Trainer(_cfg(data, stage1, steps=3, resume=True, overwrite=False), DistInfo())
    assert trainer.state.step == 2
    restored = trainer.optimizer.state_dict()
    assert restored["param_groups"] == saved["optimizer"]["param_groups"]
    for k, st in saved["optimizer"]["state"].items():
        for name, value in st.items():
            assert torch.equal(restored["state"][k][name], value), (k, name)
    assert trainer.scheduler.last_epoch == 2
    weights, _, _ = load_checkpoint(stage1 / "last.pt")
    for (n, p), q in zip(
        trainer.model.state_dict().items(), weights.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q), n
    result = trainer.run()
    assert result.step == 3 and [h["step"] for h in result.history] == [3]


def test_stage2_trains_only_the_cross_clip_module(data: Path, stage1: Path, tmp_path: Path) -> None:
    init, _, _ = load_checkpoint(stage1 / "model_final.pt")
    result = train(
        _cfg(data, tmp_path / "s2", stage=2, init=stage1 / "model_final.pt", steps=1, clips=2)
    )
    assert result.step == 1 and math.isfinite(result.history[-1]["loss"])
    before, after = init.state_dict(), result.model.state_dict()
    frozen = [k for k in before if not k.startswith("cross_clip.")]
    assert frozen and all(
        torch.equal(before[k], after[k].cpu()) for k in frozen
    )  # weights and BN statistics
    changed = [
        k
        for k in before
        if k.startswith("cross_clip.") and not torch.equal(before[k], after[k].cpu())
    ]
    assert changed
    # the cross-clip heads started as copies of the segmenter's, statistics included, and keep them
    assert torch.equal(
        after["cross_clip.class_proj.norm.running_var"].cpu(),
        before["decoder.class_proj.norm.running_var"],
    )
    _, cfg, meta = load_checkpoint(tmp_path / "s2" / "model_final.pt")
    assert meta["stage"] == 2 and meta["num_clips"] == 2


def test_stage2_needs_a_stage1_checkpoint(data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--stage",
            "2",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "x"),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 1 and "--init" in result.stderr


def test_stage1_init_from_another_label_set(data: Path, tmp_path: Path) -> None:
    from models.build import build_axialvs
    from models.config import get_preset
    from models.weights import save_checkpoint

    cfg = get_preset("tiny").replace(num_classes=5)
    other = build_axialvs(cfg)
    save_checkpoint(tmp_path / "coco.pt", other, cfg, {"classes": []})
    with pytest.warns(UserWarning, match="start afresh"):
        result = train(_cfg(data, tmp_path / "run", init=tmp_path / "coco.pt", steps=1))
    assert result.model.decoder.predictor.class_head.out_channels == 9  # 8 classes + void
    backbone = dict(other.named_parameters())["backbone.stem.0.weight"]
    assert not torch.equal(
        backbone, dict(result.model.named_parameters())["backbone.stem.0.weight"]
    )  # trained on


def test_stage1_from_an_inference_only_file_gets_a_fresh_semantic_head(
    data: Path, stage1: Path, tmp_path: Path
) -> None:
    """A shipped model has no auxiliary semantic head; continuing it in stage 1 adds one (so
    the semantic loss is trained again) and keeps every stored tensor as the start."""
    from models.config import config_to_dict
    from models.weights import atomic_torch_save, read_checkpoint

    payload = read_checkpoint(stage1 / "model_final.pt")
    payload["config"] = {**payload["config"]}
    payload["config"]["decoder"] = {**payload["config"]["decoder"], "aux_semantic": False}
    payload["state_dict"] = {
        k: v for k, v in payload["state_dict"].items() if not k.startswith("semantic_head.")
    }
    atomic_torch_save(payload, tmp_path / "shipped.pt")
    model, cfg, _ = load_checkpoint(tmp_path / "shipped.pt")
    assert model.semantic_head is None and config_to_dict(cfg)["decoder"]["aux_semantic"] is False
    with pytest.warns(UserWarning, match="fresh one is added"):
        result = train(_cfg(data, tmp_path / "run", init=tmp_path / "shipped.pt", steps=1))
    assert result.model.semantic_head is not None
    logged = [h for h in result.history if "loss" in h]
    assert logged and logged[-1]["semantic"] > 0
    without = train(
        _cfg(data, tmp_path / "run0", init=tmp_path / "shipped.pt", steps=1, semantic_weight=0.0)
    )
    assert without.model.semantic_head is None


def test_set_changes_the_preset_for_ablations(tmp_path) -> None:
    """--set picks the paper's ablation variants from the command line; bad keys fail."""
    from models.weights import load_checkpoint

    data = tmp_path / "data"
    generate(data, SynthConfig(videos=1, frames=4, size=(48, 64), seed=0))
    runner = CliRunner()
    args = ["train", "--data", str(data), "--steps", "1", "--batch-size", "1", "--crop", "33x33",
            "--workers", "0", "--no-progress"]  # fmt: skip
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "run"),
                              "--set", "within_clip.temporal_attention=divided",
                              "--set", "cross_clip.num_layers=2"])  # fmt: skip
    assert res.exit_code == 0, res.output
    _, cfg, _ = load_checkpoint(tmp_path / "run" / "model_final.pt")
    assert cfg.within_clip.temporal_attention == "divided" and cfg.cross_clip.num_layers == 2
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "bad"), "--set", "within_clip.oops=1"])
    assert res.exit_code == 1 and "unknown config field 'within_clip.oops'" in res.stderr
