"""`build_axialvs(cfg)`: the one place that reads a config and wires the parts together.

The clip segmenter is Video-kMaX (`segmenter="kmax"`) or Tube-Link (`"mask2former"`); both
fill the same slots of `AxialVS` (within-clip module, pixel decoder, decoder), so the rest of
the code does not depend on which one a model uses.
"""

from __future__ import annotations

from torch import nn

from .axialvs import AxialVS
from .backbones import build_backbone
from .config import AxialVSConfig, BackboneConfig, get_preset
from .cross_clip import CrossClipTracking
from .kmax_decoder import KMaXTransformerDecoder
from .mask2former.decoder import Mask2FormerDecoder
from .mask2former.encoder import Mask2FormerEncoder
from .mask2former.pixel_decoder import Mask2FormerPixelDecoder
from .pixel_decoder import KMaXPixelDecoder
from .semantic_head import SemanticHead
from .within_clip import WithinClipTracking


def _backbone(cfg: BackboneConfig) -> nn.Module:
    if cfg.name.startswith(("convnext_", "convnextv2_")):
        return build_backbone(cfg.name, drop_path=cfg.drop_path)
    if cfg.name.startswith("swin_"):
        return build_backbone(cfg.name, drop_path=cfg.drop_path, window=cfg.window or None)
    if cfg.name.startswith("efficientnet_"):
        return build_backbone(cfg.name)
    if cfg.name == "small":
        return build_backbone(cfg.name, widths=cfg.widths, depths=cfg.depths, norm=cfg.norm)
    return build_backbone(cfg.name, norm=cfg.norm, norm_eps=cfg.norm_eps)


def _kmax_parts(
    cfg: AxialVSConfig, channels: dict[str, int]
) -> tuple[nn.Module | None, nn.Module, nn.Module, nn.Module | None]:
    """Video-kMaX: within-clip module (or None), pixel decoder, decoder, semantic head."""
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
        corners=pd.corners,
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
        stacked_pixel_head=dc.stacked_pixel_head,
    )
    semantic_head = (
        SemanticHead(channels, cfg.num_classes, channels=dc.dim, corners=pd.corners)
        if dc.aux_semantic
        else None
    )
    return within_clip, pixel_decoder, decoder, semantic_head


def _mask2former_parts(
    cfg: AxialVSConfig, channels: dict[str, int]
) -> tuple[nn.Module, nn.Module, nn.Module]:
    """Tube-Link: MSDeformAttn encoder with temporal layers (the within-clip module), FPN
    pixel decoder, masked-attention decoder."""
    wc, m2f = cfg.within_clip, cfg.mask2former
    encoder = Mask2FormerEncoder(
        channels,
        dim=wc.dim,
        heads=wc.heads,
        ffn_dim=wc.ffn_dim,
        dropout=wc.dropout,
        num_blocks=wc.num_blocks,
        temporal_layers=wc.temporal_layers_active if wc.enabled else 0,
        temporal_attention=wc.temporal_attention,
        deform_points=wc.deform_points,
        spatial_levels=wc.spatial_levels,
        temporal_levels=wc.temporal_levels,
        residual=m2f.temporal_residual,
    )
    pixel_decoder = Mask2FormerPixelDecoder(channels, dim=wc.dim, mask_dim=m2f.mask_dim)
    decoder = Mask2FormerDecoder(
        pixel_dim=wc.dim,
        num_queries=m2f.num_queries,
        dim=m2f.dim,
        heads=m2f.heads,
        ffn_dim=m2f.ffn_dim,
        num_layers=m2f.dec_layers,
        mask_dim=m2f.mask_dim,
        num_classes=cfg.num_classes,
        dropout=m2f.dropout,
    )
    return encoder, pixel_decoder, decoder


def build_axialvs(cfg: AxialVSConfig | str) -> AxialVS:
    """Build the network described by `cfg` (a config or a preset name), randomly initialised."""
    if isinstance(cfg, str):
        cfg = get_preset(cfg)
    backbone = _backbone(cfg.backbone)
    channels = dict(backbone.out_channels)
    if cfg.segmenter == "mask2former":
        within_clip, pixel_decoder, decoder = _mask2former_parts(cfg, channels)
        semantic_head = None
        query_dim, mask_dim = cfg.mask2former.dim, cfg.mask2former.mask_dim
    else:
        within_clip, pixel_decoder, decoder, semantic_head = _kmax_parts(cfg, channels)
        query_dim, mask_dim = cfg.decoder.dim, cfg.decoder.mask_dim
    cc = cfg.cross_clip
    cross_clip = None
    if cc.enabled:
        cross_clip = CrossClipTracking(
            dim=query_dim,
            heads=cc.heads,
            num_layers=cc.num_layers,
            attention=cc.attention,
            aspp=cc.aspp,
            atrous_rates=cc.atrous_rates,
            kernel_size=cc.kernel_size,
            dropout=cc.dropout,
            mask_dim=mask_dim,
            num_classes=cfg.num_classes,
            head=cc.head,
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
