"""Checkpoints: round trip, strict loading with clear errors, safe loading."""

from __future__ import annotations

import pickle

import pytest
import torch

from models.build import build_axialvs
from models.config import get_preset
from models.errors import CheckpointError
from models.weights import load_checkpoint, read_checkpoint, save_checkpoint


def test_save_load_gives_identical_outputs(tmp_path) -> None:
    torch.manual_seed(0)
    cfg = get_preset("tiny")
    model = build_axialvs(cfg).eval()
    meta = {"classes": [{"id": 1, "name": "wall", "isthing": False}], "trained_on": "synthetic"}
    path = save_checkpoint(tmp_path / "m.pt", model, cfg, meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no temporary file left
    loaded, cfg2, meta2 = load_checkpoint(path)
    assert cfg2 == cfg and meta2 == meta
    x = torch.rand(1, 2, 3, 65, 97) * 255
    with torch.no_grad():
        a, b = model.forward_clip(x), loaded.forward_clip(x)
        ra = model.refine(a.queries[:, None])
        rb = loaded.refine(b.queries[:, None])
    assert torch.equal(a.mask_logits, b.mask_logits)
    assert torch.equal(a.class_logits, b.class_logits)
    assert torch.equal(ra.class_logits, rb.class_logits)


def test_mismatched_checkpoint_names_the_keys(tmp_path) -> None:
    cfg = get_preset("tiny")
    model = build_axialvs(cfg)
    path = save_checkpoint(tmp_path / "m.pt", model, cfg)
    payload = torch.load(path, weights_only=True)
    sd = payload["state_dict"]
    sd.pop("decoder.cluster_centers")
    sd["decoder.extra.weight"] = torch.zeros(1)
    sd["decoder.class_proj.conv.weight"] = torch.zeros(3, 3, 1)
    torch.save(payload, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "1 missing key(s): decoder.cluster_centers" in msg
    assert "1 unexpected key(s): decoder.extra.weight" in msg
    assert "decoder.class_proj.conv.weight (3, 3, 1) vs (64, 64, 1)" in msg
    assert "\n" not in msg


def test_config_of_another_size_is_reported(tmp_path) -> None:
    cfg = get_preset("tiny")
    path = save_checkpoint(tmp_path / "m.pt", build_axialvs(cfg), cfg)
    payload = torch.load(path, weights_only=True)
    payload["config"]["decoder"]["num_queries"] = 16  # weights are for 32 queries
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "content,match",
    [
        (b"not a checkpoint at all", "not a readable PyTorch checkpoint"),
        (None, "does not exist"),
    ],
)
def test_bad_files(tmp_path, content, match) -> None:
    path = tmp_path / "bad.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        read_checkpoint(path)


def test_foreign_and_future_checkpoints(tmp_path) -> None:
    path = tmp_path / "official.pth"
    torch.save({"model": {"w": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError, match="convert it first"):
        read_checkpoint(path)
    torch.save({"format": "axialvs", "version": 99, "config": {}, "state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="upgrade axialvs"):
        read_checkpoint(path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_objects_are_refused(tmp_path) -> None:
    """weights_only loading: a file that would run code on unpickling is rejected."""

    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": "axialvs", "obj": Evil()}, f)
    with pytest.raises(CheckpointError, match="not a readable") as caught:
        read_checkpoint(path)
    assert "weights_only" not in str(caught.value)  # never the advice to load it unchecked
