"""`build_axialvs(cfg)`: the one place that reads a config and wires the parts together."""

from __future__ import annotations

from torch import nn

from .axialvs import AxialVS
from .backbones import build_backbone
from .config import AxialVSConfig, BackboneConfig, get_preset
from .cross_clip import CrossClipTracking
from .kmax_decoder import KMaXTransformerDecoder
from .pixel_decoder import KMaXPixelDecoder
from .semantic_head import SemanticHead
from .within_clip import WithinClipTracking


def _backbone(cfg: BackboneConfig) -> nn.Module:
    if cfg.name.startswith("convnext_"):
        return build_backbone(cfg.name, drop_path=cfg.drop_path)
    if cfg.name == "small":
        return build_backbone(cfg.name, widths=cfg.widths, depths=cfg.depths, norm=cfg.norm)
    return build_backbone(cfg.name, norm=cfg.norm)


def build_axialvs(cfg: AxialVSConfig | str) -> AxialVS:
    """Build the network described by `cfg` (a config or a preset name), randomly initialised."""
    if isinstance(cfg, str):
        cfg = get_preset(cfg)
    backbone = _backbone(cfg.backbone)
    channels = dict(backbone.out_channels)
    wc = cfg.within_clip
    within_clip = None
    if wc.enabled:
        within_clip = WithinClipTracking(
            channels,
            dim=wc.dim,
            heads=wc.heads,
            ffn_dim=wc.ffn_dim,
            dropout=wc.dropout,
            num_blocks=wc.num_blocks,
            deform_layers=wc.deform_layers,
            temporal_layers=wc.temporal_layers,
            temporal_attention=wc.temporal_attention,
            deform_points=wc.deform_points,
            spatial_levels=wc.spatial_levels,
            temporal_levels=wc.temporal_levels,
        )
    pd = cfg.pixel_decoder
    pixel_decoder = KMaXPixelDecoder(
        channels,
        layers=pd.layers,
        blocks=pd.blocks,
        channels=pd.channels,
        heads=pd.heads,
        drop_path=pd.drop_path,
    )
    dc = cfg.decoder
    decoder = KMaXTransformerDecoder(
        pixel_decoder.out_channels,
        layers=dc.layers,
        num_queries=dc.num_queries,
        dim=dc.dim,
        heads=dc.heads,
        ffn_dim=dc.ffn_dim,
        mask_dim=dc.mask_dim,
        num_classes=cfg.num_classes,
        drop_path=dc.drop_path,
    )
    semantic_head = (
        SemanticHead(channels, cfg.num_classes, channels=dc.dim) if dc.aux_semantic else None
    )
    cc = cfg.cross_clip
    cross_clip = None
    if cc.enabled:
        cross_clip = CrossClipTracking(
            dim=dc.dim,
            heads=cc.heads,
            num_layers=cc.num_layers,
            attention=cc.attention,
            aspp=cc.aspp,
            atrous_rates=cc.atrous_rates,
            kernel_size=cc.kernel_size,
            dropout=cc.dropout,
            mask_dim=dc.mask_dim,
            num_classes=cfg.num_classes,
        )
    return AxialVS(
        backbone=backbone,
        within_clip=within_clip,
        pixel_decoder=pixel_decoder,
        decoder=decoder,
        semantic_head=semantic_head,
        cross_clip=cross_clip,
        clip_length=cfg.clip_length,
        pixel_mean=cfg.pixel_mean,
        pixel_std=cfg.pixel_std,
    )


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in module.parameters())
