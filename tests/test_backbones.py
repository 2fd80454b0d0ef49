"""Backbones: output levels, sizes on odd inputs, checkpoint-compatible keys, norms, freezing."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from models.backbones import BACKBONES, FrozenBatchNorm2d, ResNet, build_backbone

LEVELS = ("res2", "res3", "res4", "res5")
STRIDES = {"res2": 4, "res3": 8, "res4": 16, "res5": 32}
H, W = 97, 131  # odd on purpose: every level has side ceil(S / stride)

# torchvision's resnet50 state dict has these entries (among others); `fc.*` is not ours.
TORCHVISION_RESNET50_KEYS = {
    "conv1.weight": (64, 3, 7, 7),
    "bn1.weight": (64,),
    "bn1.running_var": (64,),
    "bn1.num_batches_tracked": (),
    "layer1.0.conv1.weight": (64, 64, 1, 1),
    "layer1.0.conv3.weight": (256, 64, 1, 1),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer1.0.downsample.1.running_mean": (256,),
    "layer2.0.conv2.weight": (128, 128, 3, 3),
    "layer2.0.downsample.0.weight": (512, 256, 1, 1),
    "layer3.5.bn2.bias": (256,),
    "layer4.0.downsample.0.weight": (2048, 1024, 1, 1),
    "layer4.2.conv3.weight": (2048, 512, 1, 1),
    "layer4.2.bn3.running_var": (2048,),
}
# torchvision resnet50: 25,557,032 parameters, of which fc has 2048 * 1000 + 1000 = 2,049,000.
TORCHVISION_RESNET50_PARAMS_WITHOUT_FC = 23_508_032

# The official ConvNeXt-T has 28,589,128 parameters (the "28.59M" of the paper's table),
# including its classifier: a final LayerNorm(768) (2 * 768 = 1,536) and Linear(768, 1000)
# (768 * 1000 + 1000 = 769,000). Our headless backbone keeps everything else:
# 28,589,128 - 1,536 - 769,000 = 27,818,592.
CONVNEXT_TINY_PARAMS_WITHOUT_HEAD = 28_589_128 - 2 * 768 - (768 * 1000 + 1000)


@pytest.mark.parametrize("name", ["small", "resnet18", "resnet50", "convnext_tiny"])
def test_levels_strides_and_sizes_on_odd_input(name):
    model = build_backbone(name).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, H, W))
    assert tuple(out) == LEVELS
    assert model.out_strides == STRIDES
    for level, feature in out.items():
        stride = STRIDES[level]
        assert feature.shape == (
            1,
            model.out_channels[level],
            math.ceil(H / stride),
            math.ceil(W / stride),
        )
        assert torch.isfinite(feature).all()


def test_channels():
    assert build_backbone("resnet50").out_channels == dict(
        zip(LEVELS, (256, 512, 1024, 2048), strict=True)
    )
    assert build_backbone("resnet18").out_channels == dict(
        zip(LEVELS, (64, 128, 256, 512), strict=True)
    )
    assert build_backbone("convnext_tiny").out_channels == dict(
        zip(LEVELS, (96, 192, 384, 768), strict=True)
    )
    small = build_backbone("small", widths=(8, 16, 24, 32), depths=(1, 2, 1, 1))
    assert small.out_channels == dict(zip(LEVELS, (8, 16, 24, 32), strict=True))


def test_resnet50_torchvision_layout():
    model = build_backbone("resnet50")
    state = model.state_dict()
    for key, shape in TORCHVISION_RESNET50_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith("fc.") for k in state)
    # 53 convs (1 + 16 blocks x 3 + 4 projections), each followed by a BN with 5 entries
    assert len(state) == 53 * 6
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_RESNET50_PARAMS_WITHOUT_FC
    # ResNet v1.5 as in torchvision: the stride sits on the 3x3 conv
    assert model.layer2[0].conv1.stride == (1, 1) and model.layer2[0].conv2.stride == (2, 2)


def test_frozen_bn_loads_bn_weights_and_matches_eval_bn():
    torch.manual_seed(0)
    trained = ResNet(depth=18, norm="bn")
    with torch.no_grad():
        for m in trained.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    frozen = ResNet(depth=18, norm="frozen_bn")
    frozen.load_state_dict(trained.state_dict(), strict=True)  # num_batches_tracked dropped
    bn = frozen.bn1
    assert isinstance(bn, FrozenBatchNorm2d)
    assert {n for n, _ in bn.named_buffers()} == {"weight", "bias", "running_mean", "running_var"}
    assert not list(bn.parameters())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = trained.eval()(x)
        got = frozen.train()(x)  # frozen statistics whatever the mode
    for level in LEVELS:
        torch.testing.assert_close(got[level], expected[level], atol=1e-4, rtol=1e-4)


def test_group_norm_option():
    model = build_backbone("resnet18", norm="gn")
    assert isinstance(model.bn1, nn.GroupNorm) and model.bn1.num_groups == 32
    assert isinstance(model.layer2[0].downsample[1], nn.GroupNorm)
    small = build_backbone("small", norm="gn")  # 16 channels: gcd(32, 16) groups
    assert small(torch.randn(1, 3, 32, 32))["res5"].shape == (1, 128, 1, 1)


def test_freeze_at():
    model = build_backbone("resnet18", freeze_at=2).train()
    assert not model.conv1.weight.requires_grad and not model.layer1[0].conv1.weight.requires_grad
    assert model.layer2[0].conv1.weight.requires_grad
    assert not model.bn1.training and not model.layer1[0].bn1.training
    assert model.layer2[0].bn1.training
    with pytest.raises(ValueError, match="freeze_at"):
        build_backbone("resnet18", freeze_at=6)


@pytest.mark.parametrize(
    "factory", [lambda: ResNet(norm="batch"), lambda: build_backbone("small", norm="ln")]
)
def test_invalid_norm_names_the_choices(factory):
    with pytest.raises(ValueError, match="bn, frozen_bn, gn"):
        factory()


def test_build_backbone_errors():
    with pytest.raises(ValueError, match="resnet50") as info:
        build_backbone("resnet51")
    for name in ("resnet18", "convnext_large", "small"):
        assert name in str(info.value) and name in BACKBONES
    with pytest.raises(ValueError, match="norm"):
        build_backbone("convnext_tiny", norm="bn")
    assert isinstance(build_backbone("resnet18", widths=(), drop_path=None), ResNet)


def test_convnext_tiny_layout_and_parameter_count():
    model = build_backbone("convnext_tiny", drop_path=0.1)
    state = model.state_dict()
    expected = {
        "downsample_layers.0.0.weight": (96, 3, 4, 4),
        "downsample_layers.0.1.weight": (96,),
        "downsample_layers.1.0.bias": (96,),
        "downsample_layers.1.1.weight": (192, 96, 2, 2),
        "stages.0.0.dwconv.weight": (96, 1, 7, 7),
        "stages.0.0.gamma": (96,),
        "stages.2.8.pwconv1.weight": (1536, 384),
        "stages.3.2.pwconv2.weight": (768, 3072),
        "stages.3.2.norm.bias": (768,),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert sum(p.numel() for p in model.parameters()) == CONVNEXT_TINY_PARAMS_WITHOUT_HEAD
    assert model.stages[0][0].drop_path.__class__.__name__ == "Identity"  # rate 0 at the start
    assert model.stages[3][2].drop_path.p == pytest.approx(0.1)


def test_small_backbone_trains():
    model = build_backbone("small", widths=(8, 16, 24, 32), depths=(1, 1, 2, 1))
    out = model(torch.randn(2, 3, 64, 96))
    sum(f.mean() for f in out.values()).backward()
    assert all(p.grad is not None for p in model.parameters())
