"""The Tube-Link (Mask2Former) clip segmenter: shapes, gradients, inserted axial layers, config."""

from __future__ import annotations

import pytest
import torch
from netkit import assert_gradients_reach_every_parameter

from models.build import build_axialvs, count_parameters
from models.config import AxialVSConfig, config_from_dict, config_to_dict, get_preset
from models.errors import ConfigError
from models.mask2former.decoder import attention_mask
from models.mask2former.encoder import Mask2FormerEncoder
from models.within_clip import AttentionRequest

TINY = get_preset("tubelink-tiny")


def tiny(**changes) -> AxialVSConfig:
    return TINY.replace(**changes)


def clip(b: int = 1, t: int = 4, h: int = 97, w: int = 131) -> torch.Tensor:
    return torch.rand(b, t, 3, h, w) * 255


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_axialvs(TINY).eval()


@pytest.mark.parametrize("h,w", [(97, 131), (65, 47), (33, 33)])
def test_clip_output_shapes_on_odd_sizes(model, h: int, w: int) -> None:
    with torch.no_grad():
        out = model.forward_clip(clip(2, 4, h, w))
    n, e, d, c = 16, 32, 64, 41
    hh, ww = -(-h // 4), -(-w // 4)
    assert out.queries.shape == (2, n, d)
    assert out.mask_embeddings.shape == (2, n, e)
    assert out.class_logits.shape == (2, n, c)
    assert out.mask_logits.shape == (2, n, 4, hh, ww)
    assert out.pixel_features.shape == (2, e, 4, hh, ww)
    # masks are the mask embeddings dotted with the clip's mask features, frame by frame
    masks = torch.einsum("bne,bethw->bnthw", out.mask_embeddings, out.pixel_features)
    torch.testing.assert_close(masks, out.mask_logits)
    assert out.aux is None and out.semantic_logits is None and out.attention is None


def test_other_clip_lengths_and_deep_supervision() -> None:
    torch.manual_seed(0)
    model = build_axialvs(TINY).train()
    out = model.forward_clip(clip(1, 5, 65, 97), return_aux=True)
    assert out.mask_logits.shape[2] == 5
    # one prediction from the initial queries and one after each layer but the last
    assert len(out.aux) == TINY.mask2former.dec_layers
    assert all(p.mask_logits.shape == out.mask_logits.shape for p in out.aux)
    with torch.no_grad():
        assert model.eval().forward_clip(clip(1, 1, 33, 65)).mask_logits.shape == (1, 16, 1, 9, 17)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = build_axialvs(TINY).train()
    # zero-initialised weights (deformable offsets / weights) and the 1e-6 layer scale of the
    # inserted layers would hide gradients to the layers before them at initialisation
    for prm in model.parameters():
        if prm.dim() > 1 and prm.abs().sum() == 0:
            torch.nn.init.normal_(prm, std=0.02)
    for block in model.within_clip.blocks:
        torch.nn.init.constant_(block.gamma, 0.5)
    assert_gradients_reach_every_parameter(model, clip(2, 4, 65, 97))


def test_attention_maps_of_the_inserted_axial_layers(model) -> None:
    with torch.no_grad():
        out = model.forward_clip(clip(1, 4, 129, 225), attention=AttentionRequest(1, 0, "res4"))
    maps = out.attention
    # res4 of a 129 x 225 input is 9 x 15; heads = 4; T = 4
    assert maps.height.shape == (1, 15, 4, 4, 9, 4, 9)
    assert maps.width.shape == (1, 9, 4, 4, 15, 4, 15)
    torch.testing.assert_close(maps.height.sum(-1), torch.ones(1, 15, 4, 4, 9, 4))
    with torch.no_grad():
        res5 = model.forward_clip(clip(1, 4, 129, 225), attention=AttentionRequest(0, 0, "res5"))
    assert res5.attention.height.shape == (1, 8, 4, 4, 5, 4, 5)
    with pytest.raises(ConfigError, match="does not exist"):
        model.forward_clip(clip(1, 4, 65, 65), attention=AttentionRequest(2, 0, "res4"))
    with pytest.raises(ConfigError, match="no temporal layers"):
        model.forward_clip(clip(1, 4, 65, 65), attention=AttentionRequest(0, 0, "res3"))


def test_inserted_layers_with_zero_scale_leave_the_tube_link_encoder_unchanged() -> None:
    torch.manual_seed(0)
    axial = build_axialvs(TINY).eval()
    plain = build_axialvs(tiny(within_clip={"enabled": False})).eval()
    assert all(len(b.temporal) == 0 and b.gamma is None for b in plain.within_clip.blocks)
    assert plain.within_clip.level_embed_3d is None
    missing, unexpected = plain.load_state_dict(axial.state_dict(), strict=False)
    assert not missing and all(".temporal." in k or "gamma" in k or "_3d" in k for k in unexpected)
    for block in axial.within_clip.blocks:
        torch.nn.init.zeros_(block.gamma)
    x = clip(1, 4, 65, 97)
    with torch.no_grad():
        torch.testing.assert_close(
            axial.forward_clip(x).mask_logits, plain.forward_clip(x).mask_logits
        )
        for block in axial.within_clip.blocks:
            torch.nn.init.constant_(block.gamma, 1.0)
        changed = axial.forward_clip(x).mask_logits
    assert not torch.allclose(changed, plain.forward_clip(x).mask_logits)


def test_temporal_layer_variants_run() -> None:
    for kind in ("trajectory", "divided", "none"):
        model = build_axialvs(tiny(within_clip={"temporal_attention": kind})).eval()
        with torch.no_grad():
            assert model.forward_clip(clip(1, 4, 33, 65)).mask_logits.shape == (1, 16, 4, 9, 17)
    residual_free = build_axialvs(tiny(mask2former={"temporal_residual": False}))
    assert residual_free.within_clip.blocks[0].gamma is None


def test_attention_mask_blocks_outside_the_mask_and_frees_empty_masks() -> None:
    logits = torch.full((1, 2, 2, 4, 4), -1.0)  # (B, N, T, H, W)
    logits[0, 0, 1, :2, :2] = 1.0  # query 0 covers the top-left of frame 1 only
    mask = attention_mask(logits, (4, 4), heads=3)
    assert mask.shape == (3, 2, 32)
    allowed = ~mask[0, 0].view(2, 4, 4)
    assert allowed[1, :2, :2].all() and allowed.sum() == 4
    assert not mask[:, 1].any()  # query 1 predicts nothing: it may look everywhere


def test_presets_and_config_checks() -> None:
    cfg = get_preset("tubelink-r50")
    assert (cfg.segmenter, cfg.clip_length, cfg.num_classes) == ("mask2former", 4, 40)
    assert (cfg.mask2former.num_queries, cfg.mask2former.dec_layers) == (100, 9)
    assert cfg.num_queries == 100 and get_preset("r50").num_queries == 128
    assert (cfg.within_clip.num_blocks, cfg.within_clip.temporal_layers) == (6, 1)
    assert (cfg.cross_clip.num_layers, cfg.cross_clip.head) == (4, "mask2former")
    for name in ("tubelink-tiny", "tubelink-r50"):
        assert config_from_dict(config_to_dict(get_preset(name))) == get_preset(name)
    old = config_to_dict(get_preset("tiny"))
    del old["segmenter"], old["mask2former"], old["cross_clip"]["head"]
    assert config_from_dict(old) == get_preset("tiny")  # configs saved before the option
    with pytest.raises(ConfigError, match="segmenter"):
        tiny(segmenter="tube-link")
    with pytest.raises(ConfigError, match="cross_clip.head"):
        tiny(cross_clip={"head": "m2f"})
    with pytest.raises(ConfigError, match="deform_layers=1"):
        tiny(within_clip={"deform_layers": 2})
    with pytest.raises(ConfigError, match="spatial_levels"):
        tiny(within_clip={"spatial_levels": ("res4", "res5"), "temporal_levels": ("res5",)})
    with pytest.raises(ConfigError, match="divisible"):
        tiny(mask2former={"dim": 66})


def test_tube_link_r50_size_matches_mask2former() -> None:
    with torch.device("meta"):
        model = build_axialvs("tubelink-r50")
    assert isinstance(model.within_clip, Mask2FormerEncoder)
    temporal = (
        sum(
            p.numel()
            for b in model.within_clip.blocks
            for n, p in b.named_parameters()
            if n.startswith("temporal.") or n == "gamma"
        )
        + model.within_clip.level_embed_3d.numel()
    )
    # Mask2Former R50 has 44M parameters; frozen BN keeps its 53,120 affine values as buffers
    segmenter = count_parameters(model) - count_parameters(model.cross_clip) - temporal
    assert segmenter + 53_120 == pytest.approx(44.0e6, rel=0.01)
    assert temporal == 6 * 1_447_936 + 512  # 6 axial-trajectory layers + 3-D level embedding
