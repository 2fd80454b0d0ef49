"""Model configuration: a tree of frozen dataclasses and the named presets.

`build_axialvs(cfg)` (in `build.py`) is the only place that reads a config; blocks receive
plain keyword arguments. Every option with a fixed set of values is checked in `__post_init__`,
so a typo fails when the config is made, not deep inside `forward`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

TEMPORAL_ATTENTIONS = ("axial_trajectory", "trajectory", "joint", "divided", "none")
CROSS_CLIP_ATTENTIONS = ("axial_trajectory", "self", "none")
CROSS_CLIP_HEADS = ("kmax", "mask2former")
SEGMENTERS = ("kmax", "mask2former")
PIXEL_DECODER_BLOCKS = ("axial", "bottleneck")
LEVELS = ("res2", "res3", "res4", "res5")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not valid; choose one of {', '.join(choices)}")


def _check_positive(name: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value}")


def _check_divisible(name: str, value: int, heads: int) -> None:
    if value % heads:
        raise ConfigError(f"{name}={value} must be divisible by the number of heads ({heads})")


@dataclass(frozen=True)
class BackboneConfig:
    """Per-frame feature extractor. `name` is a key of `models.backbones.build_backbone`."""

    name: str = "resnet50"
    norm: str = "bn"  # bn | frozen_bn | gn (ResNet); ConvNeXt uses LayerNorm
    norm_eps: float = 1e-5  # ResNet batch norms (the official Video-kMaX ResNet: 1e-3)
    widths: tuple[int, ...] = ()  # "small" backbone only
    depths: tuple[int, ...] = ()  # "small" backbone only
    drop_path: float = 0.0  # ConvNeXt and Swin only
    window: int = 0  # Swin only: window size (0: the size's default, 7 or 12)


@dataclass(frozen=True)
class WithinClipConfig:
    """Within-clip tracking: N_w blocks of MSDeformAttn layers then temporal-attention layers.

    `temporal_attention` picks the paper's ablation variants (Tables 4-5): axial_trajectory
    (the method), trajectory (full trajectory attention), joint (joint space-time), divided
    (divided space-time), none. `deform_layers=0` removes the MSDeformAttn part.

    With `segmenter="mask2former"` this describes the MSDeformAttn encoder of the Mask2Former
    pixel decoder: `num_blocks` encoder layers (N_w = 6), each one MSDeformAttn with
    `temporal_layers` temporal layers inserted before its output projection (Tube-Link
    variant, paper appendix A); `enabled=False` keeps the encoder without temporal layers.
    """

    enabled: bool = True
    dim: int = 256
    heads: int = 8
    ffn_dim: int = 1024
    dropout: float = 0.0
    num_blocks: int = 2  # N_w
    deform_layers: int = 1  # MSDeformAttn layers per block
    temporal_layers: int = 2  # temporal-attention layers per block
    temporal_attention: str = "axial_trajectory"
    deform_points: int = 4
    spatial_levels: tuple[str, ...] = ("res3", "res4", "res5")
    temporal_levels: tuple[str, ...] = ("res4", "res5")

    def __post_init__(self) -> None:
        _check_choice(
            "within_clip.temporal_attention", self.temporal_attention, TEMPORAL_ATTENTIONS
        )
        _check_divisible("within_clip.dim", self.dim, self.heads)
        for level in (*self.spatial_levels, *self.temporal_levels):
            _check_choice("within_clip level", level, LEVELS)
        if self.enabled:
            _check_positive("within_clip.num_blocks", self.num_blocks)
            if self.deform_layers < 0 or self.temporal_layers < 0:
                raise ConfigError("within_clip layer counts must be >= 0")
            if self.deform_layers == 0 and self.temporal_layers_active == 0:
                raise ConfigError(
                    "within_clip has no layers: set deform_layers or temporal_layers > 0, "
                    "or enabled=False"
                )
            if not set(self.temporal_levels) <= set(self.spatial_levels):
                raise ConfigError("within_clip.temporal_levels must be a subset of spatial_levels")

    @property
    def temporal_layers_active(self) -> int:
        return 0 if self.temporal_attention == "none" else self.temporal_layers


@dataclass(frozen=True)
class PixelDecoderConfig:
    """kMaX pixel decoder, from stride 32 to stride 4 (one entry per stage)."""

    layers: tuple[int, ...] = (1, 5, 1, 1)
    blocks: tuple[str, ...] = ("axial", "axial", "bottleneck", "bottleneck")
    channels: tuple[int, ...] = (512, 256, 128, 64)
    heads: int = 8
    drop_path: float = 0.0
    # whose width's parity aligns the corners of the 2x resizes: "source" as the official
    # kMaX code (the paper's models, converted checkpoints), "target" (our tiny models)
    corners: str = "target"

    def __post_init__(self) -> None:
        _check_choice("pixel_decoder.corners", self.corners, ("target", "source"))
        if not len(self.layers) == len(self.blocks) == len(self.channels) == 4:
            raise ConfigError("pixel_decoder.layers/blocks/channels need 4 entries (strides 32..4)")
        for b in self.blocks:
            _check_choice("pixel_decoder.blocks", b, PIXEL_DECODER_BLOCKS)
        for c, b in zip(self.channels, self.blocks, strict=True):
            if b == "axial":
                _check_divisible("pixel_decoder.channels", c, self.heads)

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Channels of each stage's output (bottleneck expansion 4)."""
        return tuple(4 * c for c in self.channels)


@dataclass(frozen=True)
class DecoderConfig:
    """kMaX transformer decoder (k-means cross-attention) and its prediction heads."""

    num_queries: int = 128
    layers: tuple[int, ...] = (2, 2, 2)  # per stride 32, 16, 8
    dim: int = 256  # query channels
    heads: int = 8
    ffn_dim: int = 2048
    mask_dim: int = 128
    drop_path: float = 0.2
    aux_semantic: bool = True  # auxiliary semantic head (training loss only)
    # The pixel heads' 5x5 depthwise convs over the T frames stacked into one tall image, as
    # the official Video-kMaX code (the paper's models and converted checkpoints); False runs
    # them per frame, so that no frame's border rows see the neighbouring frame.
    stacked_pixel_head: bool = False

    def __post_init__(self) -> None:
        _check_positive("decoder.num_queries", self.num_queries)
        if len(self.layers) != 3:
            raise ConfigError("decoder.layers needs 3 entries (strides 32, 16, 8)")
        _check_divisible("decoder.dim", self.dim, self.heads)
        _check_divisible("decoder.dim // 2", self.dim // 2, self.heads)


@dataclass(frozen=True)
class Mask2FormerConfig:
    """Mask2Former clip segmenter (Tube-Link, VIS): masked-attention decoder over a clip's tubes.

    Used when `AxialVSConfig.segmenter == "mask2former"`. The pixel decoder's MSDeformAttn
    encoder (and the axial-trajectory layers inserted into it) is `within_clip`; its width
    `within_clip.dim` is the pixel-feature width here too.
    """

    num_queries: int = 100
    dec_layers: int = 9  # masked-attention layers, cycling over strides 32, 16, 8
    dim: int = 256  # query channels
    heads: int = 8
    ffn_dim: int = 2048
    mask_dim: int = 256  # E: mask features and mask embeddings
    dropout: float = 0.0
    temporal_residual: bool = True  # x + gamma * temporal(x) (gamma starts at 1e-6), else x

    def __post_init__(self) -> None:
        _check_positive("mask2former.num_queries", self.num_queries)
        _check_positive("mask2former.dec_layers", self.dec_layers)
        _check_positive("mask2former.mask_dim", self.mask_dim)
        _check_divisible("mask2former.dim", self.dim, self.heads)


@dataclass(frozen=True)
class CrossClipConfig:
    """Cross-clip tracking (offline): N_c blocks of attention over clip queries + Temporal-ASPP.

    `head` picks the prediction heads after the layers: "kmax" (Video-kMaX: conv + BN
    projections, void-biased classes, batch-normed masks) or "mask2former" (Tube-Link: the
    segmenter's post-norm, linear class head and MLP mask head, no void bias, no mask norm).
    """

    enabled: bool = True
    num_layers: int = 4  # N_c
    heads: int = 8
    attention: str = "axial_trajectory"  # axial_trajectory | self | none (paper Table 6a)
    aspp: bool = True
    atrous_rates: tuple[int, ...] = (1, 2, 3)
    kernel_size: int = 3
    dropout: float = 0.0
    head: str = "kmax"  # kmax | mask2former

    def __post_init__(self) -> None:
        _check_choice("cross_clip.attention", self.attention, CROSS_CLIP_ATTENTIONS)
        _check_choice("cross_clip.head", self.head, CROSS_CLIP_HEADS)
        if self.enabled:
            _check_positive("cross_clip.num_layers", self.num_layers)
            if self.attention == "none" and not self.aspp:
                raise ConfigError("cross_clip needs attention or aspp (or enabled=False)")
        if len(self.atrous_rates) != 3:
            raise ConfigError("cross_clip.atrous_rates needs 3 rates, e.g. (1, 2, 3)")


@dataclass(frozen=True)
class InferenceConfig:
    """Post-processing defaults that belong with the weights (official VIPSeg values)."""

    thing_threshold: float = 0.2
    stuff_threshold: float = 0.3
    pixel_threshold: float = 0.3
    stuff_threshold_offline: float = 0.45
    pixel_threshold_offline: float = 0.2
    overlap_threshold: float = 0.8
    short_side: int = 769  # frames are resized to fit short_side x long_side
    long_side: int = 1345


@dataclass(frozen=True)
class AxialVSConfig:
    """The whole network. `num_classes` excludes the void class (+1 is added internally).

    `segmenter` picks the clip-level segmenter: "kmax" (Video-kMaX, VPS; uses `pixel_decoder`
    and `decoder`) or "mask2former" (Tube-Link, VIS; uses `mask2former`). The other one's
    sections are ignored.
    """

    name: str = "custom"
    num_classes: int = 124
    clip_length: int = 2
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    within_clip: WithinClipConfig = field(default_factory=WithinClipConfig)
    pixel_decoder: PixelDecoderConfig = field(default_factory=PixelDecoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    cross_clip: CrossClipConfig = field(default_factory=CrossClipConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    pixel_mean: tuple[float, float, float] = (127.5, 127.5, 127.5)
    pixel_std: tuple[float, float, float] = (127.5, 127.5, 127.5)
    segmenter: str = "kmax"  # kmax | mask2former
    mask2former: Mask2FormerConfig = field(default_factory=Mask2FormerConfig)

    def __post_init__(self) -> None:
        _check_positive("num_classes", self.num_classes)
        _check_positive("clip_length", self.clip_length)
        _check_choice("segmenter", self.segmenter, SEGMENTERS)
        if self.segmenter == "kmax":
            _check_divisible("decoder.dim", self.decoder.dim, self.cross_clip.heads)
            return
        _check_divisible("mask2former.dim", self.mask2former.dim, self.cross_clip.heads)
        wc = self.within_clip
        if wc.deform_layers != 1:
            raise ConfigError(
                "segmenter='mask2former' has one MSDeformAttn per encoder layer: set "
                f"within_clip.deform_layers=1 (got {wc.deform_layers})"
            )
        if sorted(wc.spatial_levels) != ["res3", "res4", "res5"]:
            raise ConfigError(
                "segmenter='mask2former' encodes strides 32, 16, 8: set "
                "within_clip.spatial_levels=('res3', 'res4', 'res5')"
            )
        _check_positive("within_clip.num_blocks", wc.num_blocks)

    @property
    def num_queries(self) -> int:
        """N, the object queries of the clip segmenter in use."""
        if self.segmenter == "mask2former":
            return self.mask2former.num_queries
        return self.decoder.num_queries

    def replace(self, **changes: Any) -> AxialVSConfig:
        """A copy with top-level fields changed; nested ones as `within_clip={"num_blocks": 1}`."""
        resolved = {}
        for key, value in changes.items():
            if key not in {f.name for f in dataclasses.fields(self)}:
                raise ConfigError(f"unknown config field {key!r}")
            current = getattr(self, key)
            if dataclasses.is_dataclass(current) and isinstance(value, dict):
                value = dataclasses.replace(current, **value)
            resolved[key] = value
        return dataclasses.replace(self, **resolved)


def _parse_value(text: str, current: Any, where: str) -> Any:
    """Convert the text of `KEY=VALUE` to the type of the field's current value."""
    if isinstance(current, bool):
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{where}={text!r}: expected true or false")
    if isinstance(current, tuple):
        items = [t.strip() for t in text.split(",") if t.strip()]
        sample = current[0] if current else ""
        return tuple(_parse_value(t, sample, where) for t in items)
    try:
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
    except ValueError:
        raise ConfigError(f"{where}={text!r}: expected a {type(current).__name__}") from None
    return text


def apply_overrides(cfg: AxialVSConfig, assignments: list[str] | tuple[str, ...]) -> AxialVSConfig:
    """Apply `SECTION.FIELD=VALUE` (or `FIELD=VALUE` for top-level fields) assignments, e.g.
    `within_clip.temporal_attention=divided`, `within_clip.enabled=false`,
    `cross_clip.atrous_rates=1,2,5`. Values take the type of the field; the result is
    validated like any config."""
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"{item!r} is not KEY=VALUE (e.g. within_clip.num_blocks=1)")
        section, dot, name = key.strip().rpartition(".")
        target = getattr(cfg, section, None) if dot else cfg
        fields = (
            {f.name for f in dataclasses.fields(target)}
            if dataclasses.is_dataclass(target)
            else set()
        )
        if name not in fields or dataclasses.is_dataclass(getattr(target, name)):
            raise ConfigError(f"unknown config field {key.strip()!r}")
        value = _parse_value(text, getattr(target, name), key.strip())
        cfg = cfg.replace(**({section: {name: value}} if dot else {name: value}))
    return cfg


# ---------------------------------------------------------------------------------------------
# Serialisation: plain dicts / lists only, so checkpoints load with `weights_only=True`.

_NESTED = {
    "backbone": BackboneConfig,
    "within_clip": WithinClipConfig,
    "pixel_decoder": PixelDecoderConfig,
    "decoder": DecoderConfig,
    "cross_clip": CrossClipConfig,
    "inference": InferenceConfig,
    "mask2former": Mask2FormerConfig,
}


def config_to_dict(cfg: AxialVSConfig) -> dict[str, Any]:
    """Nested plain-Python dict (tuples become lists)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        return value

    return plain(cfg)


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value


def _make(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown field(s) {', '.join(unknown)} in {where} config")
    return cls(**{k: _tuplify(v) for k, v in data.items()})


def config_from_dict(data: dict[str, Any]) -> AxialVSConfig:
    """Inverse of `config_to_dict`; unknown keys raise `ConfigError` (missing ones default)."""
    if not isinstance(data, dict):
        raise ConfigError(f"a model config must be a dict, got {type(data).__name__}")
    top = dict(data)
    for key, cls in _NESTED.items():
        if key in top:
            top[key] = _make(cls, top[key], key)
    return _make(AxialVSConfig, top, "model")


# ---------------------------------------------------------------------------------------------
# Presets.


def _paper_vps(name: str, backbone: BackboneConfig) -> AxialVSConfig:
    """A paper VPS model (Video-kMaX clip segmenter, VIPSeg, T = 2) computed as the official
    code does: pixel heads over the stacked frames of a clip, resize corners aligned by the
    source width (and, for the ResNet, TensorFlow-style batch-norm eps 1e-3)."""
    return AxialVSConfig(
        name=name,
        backbone=backbone,
        pixel_decoder=PixelDecoderConfig(corners="source"),
        decoder=DecoderConfig(stacked_pixel_head=True),
    )


def _r50() -> AxialVSConfig:
    """The paper's ResNet-50 VPS model."""
    return _paper_vps("r50", BackboneConfig(name="resnet50", norm_eps=1e-3))


def _convnext_large() -> AxialVSConfig:
    """The paper's ConvNeXt-L VPS model."""
    return _paper_vps("convnext-large", BackboneConfig(name="convnext_large", drop_path=0.6))


def _convnextv2_large() -> AxialVSConfig:
    """The paper's ConvNeXt-V2-L VPS model (the strongest VIPSeg entry of the official zoo)."""
    return _paper_vps("convnextv2-large", BackboneConfig(name="convnextv2_large", drop_path=0.3))


def _tiny() -> AxialVSConfig:
    """A small model for CPUs, tests and synthetic data: same architecture, narrow widths."""
    return AxialVSConfig(
        name="tiny",
        num_classes=124,
        clip_length=2,
        backbone=BackboneConfig(name="small", widths=(32, 64, 96, 128), depths=(1, 1, 2, 1)),
        within_clip=WithinClipConfig(dim=64, heads=4, ffn_dim=128, deform_points=2),
        pixel_decoder=PixelDecoderConfig(
            layers=(1, 2, 1, 1), channels=(32, 16, 16, 8), heads=4, drop_path=0.0
        ),
        decoder=DecoderConfig(
            num_queries=32,
            layers=(1, 1, 1),
            dim=64,
            heads=4,
            ffn_dim=256,
            mask_dim=32,
            drop_path=0.0,
        ),
        cross_clip=CrossClipConfig(num_layers=4, heads=4),
        inference=InferenceConfig(short_side=129, long_side=225),
    )


def _lite0() -> AxialVSConfig:
    """A CPU model on an ImageNet-pretrained EfficientNet-Lite0 (the default model's
    architecture): Video-kMaX at about 3x the tiny widths, 50 queries, 361 x 641 input."""
    return AxialVSConfig(
        name="lite0",
        num_classes=11,
        clip_length=2,
        backbone=BackboneConfig(name="efficientnet_lite0"),
        within_clip=WithinClipConfig(dim=128, heads=4, ffn_dim=256, deform_points=4),
        pixel_decoder=PixelDecoderConfig(
            layers=(1, 2, 1, 1), channels=(64, 32, 32, 16), heads=4, drop_path=0.0
        ),
        decoder=DecoderConfig(
            num_queries=50,
            layers=(1, 1, 1),
            dim=128,
            heads=4,
            ffn_dim=512,
            mask_dim=64,
            drop_path=0.0,
        ),
        cross_clip=CrossClipConfig(num_layers=4, heads=4),
        inference=InferenceConfig(short_side=361, long_side=641),
    )


IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, 0..255 (Tube-Link / mmdet)
IMAGENET_STD = (58.395, 57.12, 57.375)


def _tubelink_r50() -> AxialVSConfig:
    """The paper's ResNet-50 VIS model: Tube-Link (Mask2Former over clips of 4 frames) with an
    axial-trajectory layer inserted after each of the 6 MSDeformAttn encoder layers (N_w = 6),
    100 queries, 9 masked-attention layers, N_c = 4; YouTube-VIS 2021 classes."""
    return AxialVSConfig(
        name="tubelink-r50",
        segmenter="mask2former",
        num_classes=40,
        clip_length=4,
        backbone=BackboneConfig(name="resnet50", norm="frozen_bn"),
        within_clip=WithinClipConfig(num_blocks=6, deform_layers=1, temporal_layers=1),
        mask2former=Mask2FormerConfig(),
        cross_clip=CrossClipConfig(num_layers=4, head="mask2former"),
        inference=InferenceConfig(short_side=360, long_side=640),
        pixel_mean=IMAGENET_MEAN,
        pixel_std=IMAGENET_STD,
    )


def _tubelink_swin_large() -> AxialVSConfig:
    """The paper's Swin-L VIS model: Tube-Link with a Swin-L backbone (window 12, mmdetection
    layout), otherwise as `tubelink-r50`; the official configs run clips of 6 frames."""
    return dataclasses.replace(
        _tubelink_r50(),
        name="tubelink-swin-large",
        clip_length=6,
        backbone=BackboneConfig(name="swin_large", drop_path=0.3),
    )


def _tubelink_tiny() -> AxialVSConfig:
    """The Tube-Link variant at CPU size, for tests and synthetic data."""
    return AxialVSConfig(
        name="tubelink-tiny",
        segmenter="mask2former",
        num_classes=40,
        clip_length=4,
        backbone=BackboneConfig(
            name="small", norm="frozen_bn", widths=(32, 64, 96, 128), depths=(1, 1, 2, 1)
        ),
        within_clip=WithinClipConfig(
            dim=64,
            heads=4,
            ffn_dim=128,
            num_blocks=2,
            deform_layers=1,
            temporal_layers=1,
            deform_points=2,
        ),
        mask2former=Mask2FormerConfig(
            num_queries=16, dec_layers=3, dim=64, heads=4, ffn_dim=128, mask_dim=32
        ),
        cross_clip=CrossClipConfig(num_layers=4, heads=4, head="mask2former"),
        inference=InferenceConfig(short_side=128, long_side=224),
        pixel_mean=IMAGENET_MEAN,
        pixel_std=IMAGENET_STD,
    )


PRESETS: dict[str, AxialVSConfig] = {
    "tiny": _tiny(),
    "lite0": _lite0(),
    "r50": _r50(),
    "convnext-large": _convnext_large(),
    "convnextv2-large": _convnextv2_large(),
    "tubelink-tiny": _tubelink_tiny(),
    "tubelink-r50": _tubelink_r50(),
    "tubelink-swin-large": _tubelink_swin_large(),
}


def get_preset(name: str) -> AxialVSConfig:
    """The preset called `name`; an unknown name raises `ConfigError` listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}") from None
