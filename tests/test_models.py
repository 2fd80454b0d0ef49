"""The network: shapes on odd sizes, ablation variants, gradients, attention maps, matching."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from netkit import assert_gradients_reach_every_parameter

from models.build import build_axialvs, count_parameters
from models.config import PRESETS, AxialVSConfig, config_from_dict, config_to_dict, get_preset
from models.cross_clip import TemporalASPP
from models.errors import ConfigError
from models.layers.kmax_blocks import AxialAttention1D, DecoderBlock
from models.matching import align_clips, match_queries
from models.within_clip import AttentionRequest

TINY = get_preset("tiny")


def tiny(**changes) -> AxialVSConfig:
    return TINY.replace(**changes)


def clip(b: int = 1, t: int = 2, h: int = 97, w: int = 131) -> torch.Tensor:
    return torch.rand(b, t, 3, h, w) * 255


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return build_axialvs("tiny").eval()


@pytest.mark.parametrize("h,w", [(97, 131), (65, 47), (33, 33)])
def test_clip_output_shapes_on_odd_sizes(tiny_model, h: int, w: int) -> None:
    with torch.no_grad():
        out = tiny_model.forward_clip(clip(2, 2, h, w))
    n, e, d, c = 32, 32, 64, 125
    hh, ww = -(-h // 4), -(-w // 4)  # stride 4, rounded up
    assert out.queries.shape == (2, n, d)
    assert out.mask_embeddings.shape == (2, n, e)
    assert out.class_logits.shape == (2, n, c)
    assert out.mask_logits.shape == (2, n, 2, hh, ww)
    assert out.pixel_features.shape == (2, e, 2, hh, ww)
    norms = out.pixel_features.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    assert out.aux is None and out.semantic_logits is None and out.attention is None


def test_clip_lengths_other_than_two(tiny_model) -> None:
    with torch.no_grad():
        for t in (1, 3, 4):
            out = tiny_model.forward_clip(clip(1, t, 65, 97))
            assert out.mask_logits.shape[2] == t


def test_training_outputs_include_deep_supervision() -> None:
    model = build_axialvs("tiny").train()
    out = model.forward_clip(clip(2, 2, 97, 131), return_aux=True)
    # one prediction per k-means layer: strides 32, 16, 8 (layers (1, 1, 1) in the tiny preset)
    assert [p.mask_logits.shape[-2:] for p in out.aux] == [(4, 5), (7, 9), (13, 17)]
    assert out.semantic_logits.shape == (2, 125, 2, 25, 33)


@pytest.mark.parametrize("variant", ["axial_trajectory", "trajectory", "joint", "divided", "none"])
def test_within_clip_ablation_variants_run(variant: str) -> None:
    model = build_axialvs(tiny(within_clip={"temporal_attention": variant})).eval()
    with torch.no_grad():
        out = model.forward_clip(clip(1, 2, 65, 97))
    assert out.mask_logits.shape == (1, 32, 2, 17, 25)


def test_baseline_and_layer_count_variants() -> None:
    base = build_axialvs(tiny(within_clip={"enabled": False}, cross_clip={"enabled": False}))
    assert base.within_clip is None and base.cross_clip is None
    sequential = build_axialvs(
        tiny(within_clip={"num_blocks": 1, "deform_layers": 2, "temporal_layers": 4})
    )
    block = sequential.within_clip.blocks[0]
    assert len(block.deform) == 2 and len(block.temporal) == 4
    with torch.no_grad():
        assert base.eval().forward_clip(clip(1, 2, 33, 65)).mask_logits.shape[-2:] == (9, 17)
    with pytest.raises(ConfigError, match="no cross-clip"):
        base.refine(torch.zeros(1, 2, 32, 64))


def test_invalid_options_fail_loudly() -> None:
    with pytest.raises(ConfigError, match="axial_trajectory"):
        tiny(within_clip={"temporal_attention": "axial-trajectory"})
    with pytest.raises(ConfigError, match="cross_clip.attention"):
        tiny(cross_clip={"attention": "vita"})
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("r51")
    with pytest.raises(ConfigError, match="divisible"):
        tiny(decoder={"dim": 66})
    with pytest.raises(ConfigError, match="unknown config field"):
        TINY.replace(depth=3)


@pytest.mark.parametrize("name", list(PRESETS))
def test_config_round_trip(name: str) -> None:
    cfg = PRESETS[name]
    assert config_from_dict(config_to_dict(cfg)) == cfg
    data = config_to_dict(cfg)
    data["within_clip"]["bogus"] = 1
    with pytest.raises(ConfigError, match="bogus"):
        config_from_dict(data)


def test_r50_preset_matches_the_paper_setting() -> None:
    cfg = get_preset("r50")
    assert (cfg.clip_length, cfg.num_classes, cfg.decoder.num_queries) == (2, 124, 128)
    assert (cfg.within_clip.num_blocks, cfg.within_clip.deform_layers) == (2, 1)
    assert cfg.within_clip.temporal_layers == 2 and cfg.cross_clip.num_layers == 4
    assert cfg.cross_clip.atrous_rates == (1, 2, 3)
    model = build_axialvs(cfg)
    # ResNet-50 without its classifier has 23,508,032 parameters (torchvision).
    assert count_parameters(model.backbone) == 23_508_032
    assert model.decoder.cluster_centers.shape == (256, 128)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = build_axialvs("tiny").train()
    # Zero-initialised weights (norm scales of residual branches that start as identity, the
    # deformable attention's offset and weight projections) block gradients to the layers
    # before them at initialisation; make them non-zero for this check.
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
    for prm in model.parameters():
        if prm.dim() > 1 and prm.abs().sum() == 0:
            torch.nn.init.normal_(prm, std=0.02)
    assert_gradients_reach_every_parameter(model, clip(2, 2, 65, 97))


def test_attention_maps_of_a_requested_layer(tiny_model) -> None:
    with torch.no_grad():
        out = tiny_model.forward_clip(
            clip(1, 2, 129, 225), attention=AttentionRequest(0, 1, "res4")
        )
    maps = out.attention
    # res4 of a 129 x 225 input is 9 x 15; heads = 4; T = 2
    assert maps.height.shape == (1, 15, 4, 2, 9, 2, 9)
    assert maps.width.shape == (1, 9, 4, 2, 15, 2, 15)
    torch.testing.assert_close(maps.height.sum(-1), torch.ones(1, 15, 4, 2, 9, 2))
    with pytest.raises(ConfigError, match="does not exist"):
        tiny_model.forward_clip(clip(1, 2, 65, 65), attention=AttentionRequest(5, 0, "res4"))
    with pytest.raises(ConfigError, match="no temporal layers"):
        tiny_model.forward_clip(clip(1, 2, 65, 65), attention=AttentionRequest(0, 0, "res3"))


def test_refine_and_decode_shapes(tiny_model) -> None:
    with torch.no_grad():
        ref = tiny_model.refine(torch.randn(2, 3, 32, 64))
        masks = tiny_model.decode_masks(ref.mask_kernels[:, 1], torch.randn(2, 32, 2, 9, 11))
    assert ref.queries.shape == (2, 3, 32, 64)
    assert ref.class_logits.shape == (2, 32, 125)
    assert ref.mask_kernels.shape == (2, 3, 32, 32)
    assert masks.shape == (2, 32, 2, 9, 11)


def test_cross_clip_variants_and_single_clip_video() -> None:
    for changes in ({"attention": "self"}, {"aspp": False}, {"attention": "none"}):
        model = build_axialvs(tiny(cross_clip=changes)).eval()
        with torch.no_grad():
            assert model.refine(torch.randn(1, 1, 32, 64)).class_logits.shape == (1, 32, 125)


def test_temporal_aspp_is_dilated_along_clips() -> None:
    aspp = TemporalASPP(8, (1, 2, 3))
    assert [c.dilation[0] for c in aspp.convs] == [1, 2, 3]
    assert aspp(torch.randn(4, 8, 7)).shape == (4, 8, 7)


def test_kmax_blocks_shapes() -> None:
    attn = AxialAttention1D(16, 8, 16, heads=4)
    assert attn(torch.randn(3, 16, 11)).shape == (3, 16, 11)
    for kind in ("axial", "bottleneck"):
        block = DecoderBlock(24, 8, kind, heads=4)
        assert block(torch.randn(2, 24, 7, 9)).shape == (2, 32, 7, 9)


def test_hungarian_matching_recovers_a_permutation() -> None:
    torch.manual_seed(0)
    emb = torch.randn(6, 16)
    perm = torch.randperm(6)
    shuffled = emb[perm] + 0.01 * torch.randn(6, 16)
    assert torch.equal(shuffled[match_queries(emb, shuffled)], shuffled[torch.argsort(perm)])
    perms = align_clips(torch.stack([emb, shuffled, shuffled[torch.tensor([1, 0, 2, 3, 4, 5])]]))
    assert perms.shape == (3, 6) and torch.equal(perms[0], torch.arange(6))


def test_configs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TINY.num_classes = 3  # type: ignore[misc]
