"""The official computations a converted checkpoint runs: stacked-frame pixel heads, corner
alignment by the source width, the TF-style batch-norm eps, ConvNeXt-V2's GRN, mmdetection's
Swin, and what clips are matched on."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.backbones import build_backbone
from models.backbones.swin import _relative_position_index
from models.build import build_axialvs
from models.config import get_preset
from models.kmax_decoder import KMaXPredictor
from models.layers.common import resize_like


def test_stacked_pixel_head_mixes_only_the_rows_next_to_a_seam() -> None:
    torch.manual_seed(0)
    per_frame = KMaXPredictor(8, 16, 8, 5).eval()
    stacked = KMaXPredictor(8, 16, 8, 5, stacked=True).eval()
    stacked.load_state_dict(per_frame.state_dict())
    pixel = torch.randn(2 * 3, 8, 9, 11)  # B=2 clips of T=3 frames
    with torch.no_grad():
        a = per_frame.pixel_embeddings(pixel, 3)
        b = stacked.pixel_embeddings(pixel, 3)
        single = stacked.pixel_embeddings(pixel[:2], 1)  # T = 1: nothing to stack
    assert a.shape == b.shape == (2, 8, 3, 9, 11)
    far = slice(2, 7)  # rows more than 2 away from any seam (5x5 depthwise conv)
    assert torch.allclose(a[:, :, :, far], b[:, :, :, far], atol=1e-6)
    assert not torch.allclose(a[:, :, 1, :2], b[:, :, 1, :2])  # frame 1's top rows see frame 0
    assert torch.allclose(a[:, :, 0, :2], b[:, :, 0, :2], atol=1e-6)  # the clip's top border
    assert torch.equal(single, per_frame.pixel_embeddings(pixel[:2], 1))


def test_corner_rules_differ_only_where_the_widths_parities_differ() -> None:
    x = torch.randn(1, 2, 5, 6)
    same = resize_like(x, (9, 11), "target")
    assert torch.equal(same, F.interpolate(x, (9, 11), mode="bilinear", align_corners=True))
    source = resize_like(x, (9, 11), "source")  # source width 6 is even: corners not aligned
    assert torch.equal(source, F.interpolate(x, (9, 11), mode="bilinear", align_corners=False))
    odd = torch.randn(1, 2, 5, 7)
    assert torch.equal(resize_like(odd, (9, 13), "source"), resize_like(odd, (9, 13), "target"))


def test_paper_presets_compute_as_the_official_code_and_tiny_keeps_its_own() -> None:
    for name in ("r50", "convnext-large", "convnextv2-large"):
        cfg = get_preset(name)
        assert cfg.decoder.stacked_pixel_head and cfg.pixel_decoder.corners == "source"
    assert get_preset("r50").backbone.norm_eps == 1e-3
    tiny = get_preset("tiny")
    assert not tiny.decoder.stacked_pixel_head and tiny.pixel_decoder.corners == "target"
    resnet = build_backbone("resnet18", norm_eps=1e-3)
    assert {m.eps for m in resnet.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {1e-3}


def test_convnextv2_grn_starts_as_identity_and_has_no_layer_scale() -> None:
    torch.manual_seed(0)
    v2 = build_backbone("convnextv2_tiny").eval()
    keys = v2.state_dict().keys()
    assert "stages.0.0.grn.gamma" in keys and not any(
        k.endswith(".gamma") and "grn" not in k for k in keys
    )
    block = v2.stages[0][0]
    y = torch.randn(2, 5, 7, 4 * 96)
    assert torch.equal(block.grn(y), y)  # gamma = beta = 0
    with torch.no_grad():
        block.grn.gamma.fill_(1.0)
        norm = y.norm(p=2, dim=(1, 2), keepdim=True)
        expected = y * norm / (norm.mean(dim=-1, keepdim=True) + 1e-6) + y
        assert torch.allclose(block.grn(y), expected)
    out = v2(torch.randn(1, 3, 65, 97))
    assert [tuple(out[k].shape[-2:]) for k in ("res2", "res3", "res4", "res5")] == [
        (17, 25), (9, 13), (5, 7), (3, 4)
    ]  # fmt: skip


def test_swin_sizes_index_and_shifted_windows() -> None:
    torch.manual_seed(0)
    swin = build_backbone("swin_tiny").eval()
    with torch.no_grad():
        out = swin(torch.randn(1, 3, 70, 93))  # pads to 4k, then to even sizes per merge
    assert [tuple(out[k].shape[1:]) for k in ("res2", "res3", "res4", "res5")] == [
        (96, 18, 24), (192, 9, 12), (384, 5, 6), (768, 3, 3)
    ]  # fmt: skip
    index = _relative_position_index(7)
    assert index.shape == (49, 49)
    assert set(index.diagonal().tolist()) == {6 * 13 + 6}  # zero offset: the table's centre
    assert int(index.max()) == 13 * 13 - 1 and int(index.min()) == 0
    # a shifted block's mask separates the regions that the roll brought together
    attn = swin.stages[0].blocks[1].attn
    mask = attn._mask(14, 14, torch.device("cpu"))
    assert mask.shape == (4, 49, 49) and torch.equal(mask[0], torch.zeros(49, 49))
    assert (mask[3] == -100).any()


def test_tube_link_clips_are_matched_on_query_features_video_kmax_on_mask_embeddings() -> None:
    torch.manual_seed(0)
    clip = torch.rand(1, 4, 3, 64, 96) * 255
    with torch.no_grad():
        tube = build_axialvs("tubelink-tiny").eval().forward_clip(clip)
        kmax = build_axialvs("tiny").eval().forward_clip(clip[:, :2])
    assert torch.equal(tube.match_embeddings, tube.queries)
    assert torch.equal(kmax.match_embeddings, kmax.mask_embeddings)
