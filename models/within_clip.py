"""Within-clip tracking module (paper section 3.2, Fig. 3).

N_w blocks, each: multi-scale deformable attention over the stride-32/16/8 features of every
frame (spatial, per frame), then temporal layers - axial-trajectory attention by default - over
each of the coarse levels (strides 32 and 16) of the whole clip. The temporal layers of a block
are shared by the levels, which get their own level embedding. The refined features replace
the backbone's (same channels), so the pixel decoder does not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .errors import ConfigError
from .layers.common import group_norm
from .layers.msdeform_attn import MSDeformAttn
from .layers.msdeform_encoder import (
    MSDeformEncoderLayer,
    flatten_levels,
    get_reference_points,
    split_levels,
)
from .layers.position import PositionEmbeddingSine, PositionEmbeddingSine3D
from .layers.space_time import make_temporal_layer
from .layers.trajectory import AxialAttentionMaps


@dataclass(frozen=True)
class AttentionRequest:
    """Which axial-trajectory layer's stage-1 maps to return (negative indices count back)."""

    block: int = -1
    layer: int = -1
    level: str = "res4"


class WithinClipBlock(nn.Module):
    """`deform_layers` MSDeformAttn encoder layers then `temporal_layers` temporal layers."""

    def __init__(
        self,
        *,
        dim: int,
        heads: int,
        ffn_dim: int,
        dropout: float,
        deform_layers: int,
        temporal_layers: int,
        temporal_attention: str,
        levels: int,
        points: int,
    ) -> None:
        super().__init__()
        self.deform = nn.ModuleList(
            MSDeformEncoderLayer(
                d_model=dim,
                d_ffn=ffn_dim,
                dropout=dropout,
                n_levels=levels,
                n_heads=heads,
                n_points=points,
            )
            for _ in range(deform_layers)
        )
        self.temporal = nn.ModuleList(
            make_temporal_layer(temporal_attention, dim, heads, ffn_dim, dropout)
            for _ in range(temporal_layers if temporal_attention != "none" else 0)
        )


class WithinClipTracking(nn.Module):
    """Refines backbone features of a clip spatially (per frame) and temporally (per clip).

    Args:
        in_channels: backbone channels per level name ("res3", "res4", "res5", ...).
        dim, heads, ffn_dim, dropout: transformer widths.
        num_blocks: N_w.
        deform_layers, temporal_layers: layers of each kind per block.
        temporal_attention: axial_trajectory | trajectory | joint | divided | none.
        deform_points: sampling points of the deformable attention.
        spatial_levels: levels of the deformable attention; temporal_levels: levels the
            temporal layers run on (a subset).
    """

    def __init__(
        self,
        in_channels: dict[str, int],
        *,
        dim: int,
        heads: int,
        ffn_dim: int,
        dropout: float,
        num_blocks: int,
        deform_layers: int,
        temporal_layers: int,
        temporal_attention: str,
        deform_points: int,
        spatial_levels: tuple[str, ...],
        temporal_levels: tuple[str, ...],
    ) -> None:
        super().__init__()
        # Coarse to fine (res5 first), the order of the flattened multi-level sequence.
        self.levels = sorted(spatial_levels, reverse=True)
        self.temporal_levels = [lv for lv in self.levels if lv in temporal_levels]
        self.temporal_attention = temporal_attention
        self.input_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels[lv], dim, 1), group_norm(dim)) for lv in self.levels
        )
        self.output_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(dim, in_channels[lv], 1), group_norm(in_channels[lv]))
            for lv in self.levels
        )
        self.level_embed_2d = nn.Parameter(torch.empty(len(self.levels), dim))
        temporal = temporal_layers > 0 and temporal_attention != "none"
        # only with temporal layers (a file without them, e.g. an image model, has none)
        self.level_embed_3d = (
            nn.Parameter(torch.empty(max(1, len(self.temporal_levels)), dim)) if temporal else None
        )
        self.pos_2d = PositionEmbeddingSine(dim // 2, normalize=True)
        self.pos_3d = PositionEmbeddingSine3D(dim // 2, normalize=True)
        self.blocks = nn.ModuleList(
            WithinClipBlock(
                dim=dim,
                heads=heads,
                ffn_dim=ffn_dim,
                dropout=dropout,
                deform_layers=deform_layers,
                temporal_layers=temporal_layers,
                temporal_attention=temporal_attention,
                levels=len(self.levels),
                points=deform_points,
            )
            for _ in range(num_blocks)
        )
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for block in self.blocks:
            for p in block.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
            for m in block.modules():
                if isinstance(m, MSDeformAttn):
                    m.reset_parameters()
        for proj in (*self.input_proj, *self.output_proj):
            nn.init.xavier_uniform_(proj[0].weight)
            nn.init.zeros_(proj[0].bias)
        nn.init.normal_(self.level_embed_2d)
        if self.level_embed_3d is not None:
            nn.init.normal_(self.level_embed_3d)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # type: ignore[override]
        if self.level_embed_3d is None:  # older checkpoints kept it without temporal layers
            state_dict.pop(prefix + "level_embed_3d", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _resolve(self, request: AttentionRequest | None) -> tuple[int, int, int] | None:
        if request is None:
            return None
        if self.temporal_attention != "axial_trajectory":
            raise ConfigError(
                "attention maps exist only for axial-trajectory attention; this model uses "
                f"{self.temporal_attention!r}"
            )
        if request.level not in self.temporal_levels:
            raise ConfigError(
                f"level {request.level!r} has no temporal layers; choose one of "
                f"{', '.join(self.temporal_levels)}"
            )
        n_blocks, n_layers = len(self.blocks), len(self.blocks[0].temporal)
        if not (-n_blocks <= request.block < n_blocks and -n_layers <= request.layer < n_layers):
            raise ConfigError(
                f"attention layer (block {request.block}, layer {request.layer}) does not exist: "
                f"the model has {n_blocks} blocks of {n_layers} axial-trajectory layers"
            )
        block, layer = request.block % n_blocks, request.layer % n_layers
        return block, layer, self.temporal_levels.index(request.level)

    def forward(
        self, features: dict[str, Tensor], frames: int, attention: AttentionRequest | None = None
    ) -> tuple[dict[str, Tensor], AxialAttentionMaps | None]:
        """Refine `features` (each (B*T, C, H, W)) of clips of `frames` frames.

        Returns the feature dict with the spatial levels replaced (same shapes), and the
        stage-1 attention maps of the requested axial-trajectory layer (or None).
        """
        want = self._resolve(attention)
        maps = None
        srcs, pos = [], []
        for i, lv in enumerate(self.levels):
            x = self.input_proj[i](features[lv])  # (BT, D, H, W)
            srcs.append(x)
            pos.append(self.pos_2d(x) + self.level_embed_2d[i].view(1, -1, 1, 1))
        flat, shapes, starts = flatten_levels(srcs)  # (BT, S, D)
        flat_pos, _, _ = flatten_levels(pos)
        ref = get_reference_points(shapes, device=flat.device)
        pos_3d = {}
        for j, lv in enumerate(self.temporal_levels if self.level_embed_3d is not None else ()):
            x = srcs[self.levels.index(lv)]
            bt, d, h, w = x.shape
            p = self.pos_3d(x.view(bt // frames, frames, d, h, w))  # (B, T, D, H, W)
            pos_3d[lv] = (p + self.level_embed_3d[j].view(1, 1, -1, 1, 1)).permute(0, 1, 3, 4, 2)

        for b_idx, block in enumerate(self.blocks):
            for layer in block.deform:
                flat = layer(flat, flat_pos, ref, shapes, starts)
            if len(block.temporal) == 0:
                continue
            maps_ = split_levels(flat, shapes)  # list of (BT, D, H, W)
            for j, lv in enumerate(self.temporal_levels):
                i = self.levels.index(lv)
                bt, d, h, w = maps_[i].shape
                x = maps_[i].view(bt // frames, frames, d, h, w).permute(0, 1, 3, 4, 2)  # B T H W D
                for l_idx, layer in enumerate(block.temporal):
                    need = want is not None and want == (b_idx, l_idx, j)
                    x, got = layer(x, pos_3d[lv], need_weights=need)
                    if need:
                        maps = got
                maps_[i] = x.permute(0, 1, 4, 2, 3).reshape(bt, d, h, w)
            flat, _, _ = flatten_levels(maps_)

        out = dict(features)
        for i, (lv, x) in enumerate(zip(self.levels, split_levels(flat, shapes), strict=True)):
            out[lv] = self.output_proj[i](x)
        return out, maps
