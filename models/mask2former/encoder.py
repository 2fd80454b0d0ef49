"""The MSDeformAttn encoder of the Mask2Former pixel decoder, with axial-trajectory layers.

Tube-Link already refines strides 32, 16 and 8 with 6 multi-scale deformable-attention layers
(per frame). The Tube-Link instantiation of Axial-VS inserts temporal layers into each of them
(paper appendix A, N_w = 6): inside the attention, after the deformable sampling and before
the output projection, the features of the coarse levels (strides 32 and 16) of the whole clip
go through the temporal layers, added back with a per-channel scale `gamma` that starts at
1e-6 (so a pretrained image model starts unchanged). One set of temporal layers per encoder
layer serves both levels, each with its own 3-D position and level embedding.

This module plays the within-clip tracking role: it replaces the backbone's res3..res5 by
`dim`-channel encoded maps, which the pixel decoder (FPN) and the transformer decoder read.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..layers.msdeform_attn import MSDeformAttn, spatial_shape_list
from ..layers.msdeform_encoder import flatten_levels, get_reference_points, split_levels
from ..layers.position import PositionEmbeddingSine, PositionEmbeddingSine3D
from ..layers.space_time import make_temporal_layer
from ..layers.trajectory import AxialAttentionMaps
from ..within_clip import AttentionRequest
from .blocks import ConvGN

LAYER_SCALE_INIT = 1e-6


class AxialDeformLayer(nn.Module):
    """Post-norm encoder layer: MSDeformAttn (temporal layers inside) -> LN -> FFN -> LN.

    Args:
        dim, heads, ffn_dim, dropout: widths (the temporal layers use the same ones).
        levels, points: levels and sampling points of the deformable attention.
        temporal_layers: temporal layers inserted before the output projection (0 = none).
        temporal_attention: their kind (see `models.config.TEMPORAL_ATTENTIONS`).
        residual: x + gamma * temporal(x) when True, temporal(x) when False.
    """

    def __init__(
        self,
        *,
        dim: int,
        heads: int,
        ffn_dim: int,
        dropout: float,
        levels: int,
        points: int,
        temporal_layers: int,
        temporal_attention: str,
        residual: bool,
    ) -> None:
        super().__init__()
        self.self_attn = MSDeformAttn(dim, levels, heads, points)
        self.temporal = nn.ModuleList(
            make_temporal_layer(temporal_attention, dim, heads, ffn_dim, dropout)
            for _ in range(temporal_layers)
        )
        has_gamma = residual and temporal_layers > 0
        self.gamma = nn.Parameter(torch.full((dim,), LAYER_SCALE_INIT)) if has_gamma else None
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm2 = nn.LayerNorm(dim)

    def _temporal(
        self, x: Tensor, pos: Tensor, want: int | None
    ) -> tuple[Tensor, AxialAttentionMaps | None]:
        """x, pos: (B, T, H, W, C) -> same shape; stage-1 maps of layer `want` if asked."""
        y, maps = x, None
        for i, layer in enumerate(self.temporal):
            y, got = layer(y, pos, need_weights=i == want)
            if i == want:
                maps = got
        return (x + self.gamma * y if self.gamma is not None else y), maps

    def forward(
        self,
        src: Tensor,
        pos: Tensor,
        reference_points: Tensor,
        spatial_shapes: Tensor,
        frames: int,
        temporal: dict[int, Tensor],
        want: tuple[int, int] | None = None,
    ) -> tuple[Tensor, AxialAttentionMaps | None]:
        """Args:
            src, pos: (B*T, S, C) flattened levels and their 2-D position + level embeddings.
            reference_points: (1, S, L, 2); spatial_shapes: (L, 2).
            frames: T.
            temporal: level index -> its 3-D position + level embedding (B, T, H, W, C).
            want: (level index, temporal layer) whose stage-1 maps to return.

        Returns:
            (B*T, S, C) and the requested maps (or None).
        """
        out = self.self_attn.sample(src + pos, reference_points, src, spatial_shapes)  # BT S C
        maps = None
        if len(self.temporal) > 0:
            shapes = spatial_shape_list(spatial_shapes)
            parts = list(out.split([h * w for h, w in shapes], dim=1))  # L x (BT, HW, C)
            for lvl, lvl_pos in temporal.items():
                (h, w), c = shapes[lvl], out.shape[-1]
                x = parts[lvl].reshape(-1, frames, h, w, c)  # (B, T, H, W, C)
                layer = want[1] if want is not None and want[0] == lvl else None
                x, got = self._temporal(x, lvl_pos, layer)
                maps = got if got is not None else maps
                parts[lvl] = x.reshape(-1, h * w, c)
            out = torch.cat(parts, dim=1)
        src = self.norm1(src + self.dropout(self.self_attn.output_proj(out)))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout(ffn)), maps


class Mask2FormerEncoder(nn.Module):
    """Encodes res5, res4, res3 of every frame to `dim` channels, tracking along the clip.

    Args:
        in_channels: backbone channels per level name.
        dim, heads, ffn_dim, dropout: transformer widths.
        num_blocks: encoder layers (N_w).
        temporal_layers: temporal layers per encoder layer (0 for plain Tube-Link).
        temporal_attention: kind of the temporal layers.
        deform_points: sampling points of the deformable attention.
        spatial_levels: levels encoded (res3, res4, res5); temporal_levels: the coarse ones the
            temporal layers run on.
        residual: see `AxialDeformLayer`.
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
        temporal_layers: int,
        temporal_attention: str,
        deform_points: int,
        spatial_levels: tuple[str, ...],
        temporal_levels: tuple[str, ...],
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.levels = sorted(spatial_levels, reverse=True)  # coarse to fine: res5, res4, res3
        self.temporal_levels = [lv for lv in self.levels if lv in temporal_levels]
        n_temporal = temporal_layers if self.temporal_levels else 0
        self.temporal_attention = temporal_attention
        self.dim = dim
        self.input_proj = nn.ModuleList(
            ConvGN(in_channels[lv], dim, bias=True, act=False) for lv in self.levels
        )
        self.level_embed_2d = nn.Parameter(torch.empty(len(self.levels), dim))
        self.level_embed_3d = (
            nn.Parameter(torch.empty(len(self.temporal_levels), dim)) if n_temporal else None
        )
        self.pos_2d = PositionEmbeddingSine(dim // 2, normalize=True)
        self.pos_3d = PositionEmbeddingSine3D(dim // 2, normalize=True)
        self.blocks = nn.ModuleList(
            AxialDeformLayer(
                dim=dim,
                heads=heads,
                ffn_dim=ffn_dim,
                dropout=dropout,
                levels=len(self.levels),
                points=deform_points,
                temporal_layers=n_temporal,
                temporal_attention=temporal_attention,
                residual=residual,
            )
            for _ in range(num_blocks)
        )
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for block in self.blocks:
            for name, p in block.named_parameters():
                if p.dim() > 1 and not name.startswith("self_attn."):
                    nn.init.xavier_uniform_(p)
            block.self_attn.reset_parameters()
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj.conv.weight)
            nn.init.zeros_(proj.conv.bias)
        nn.init.normal_(self.level_embed_2d)
        if self.level_embed_3d is not None:
            nn.init.normal_(self.level_embed_3d)

    def _resolve(self, request: AttentionRequest | None) -> tuple[int, int, int] | None:
        """(block, level index, layer) of an attention request, validated."""
        if request is None:
            return None
        n_blocks, n_layers = len(self.blocks), len(self.blocks[0].temporal)
        if n_layers == 0 or self.temporal_attention != "axial_trajectory":
            raise ConfigError(
                "attention maps exist only for axial-trajectory layers; this model has none"
            )
        if request.level not in self.temporal_levels:
            raise ConfigError(
                f"level {request.level!r} has no temporal layers; choose one of "
                f"{', '.join(self.temporal_levels)}"
            )
        if not (-n_blocks <= request.block < n_blocks and -n_layers <= request.layer < n_layers):
            raise ConfigError(
                f"attention layer (block {request.block}, layer {request.layer}) does not exist: "
                f"the model has {n_blocks} encoder layers of {n_layers} axial-trajectory layer(s)"
            )
        level = self.levels.index(request.level)
        return request.block % n_blocks, level, request.layer % n_layers

    def forward(
        self, features: dict[str, Tensor], frames: int, attention: AttentionRequest | None = None
    ) -> tuple[dict[str, Tensor], AxialAttentionMaps | None]:
        """Encode `features` (each (B*T, C, H, W)) of clips of `frames` frames.

        Returns the feature dict with res3..res5 replaced by (B*T, dim, H, W) encoded maps
        (other levels unchanged), and the stage-1 maps of the requested layer (or None).
        """
        want = self._resolve(attention)
        srcs, pos, temporal = [], [], {}
        for i, lv in enumerate(self.levels):
            x = self.input_proj[i](features[lv])  # (BT, D, H, W)
            srcs.append(x)
            pos.append(self.pos_2d(x) + self.level_embed_2d[i].view(1, -1, 1, 1))
            if lv in self.temporal_levels and self.level_embed_3d is not None:
                bt, d, h, w = x.shape
                p = self.pos_3d(x.view(bt // frames, frames, d, h, w))  # (B, T, D, H, W)
                j = self.temporal_levels.index(lv)
                p = p + self.level_embed_3d[j].view(1, 1, -1, 1, 1)
                temporal[i] = p.permute(0, 1, 3, 4, 2)  # (B, T, H, W, D)
        flat, shapes, _ = flatten_levels(srcs)  # (BT, S, D)
        flat_pos, _, _ = flatten_levels(pos)
        ref = get_reference_points(shapes, device=flat.device)
        maps = None
        for b_idx, block in enumerate(self.blocks):
            need = (want[1], want[2]) if want is not None and want[0] == b_idx else None
            flat, got = block(flat, flat_pos, ref, shapes, frames, temporal, need)
            maps = got if got is not None else maps
        out = dict(features)
        for lv, x in zip(self.levels, split_levels(flat, shapes), strict=True):
            out[lv] = x
        return out, maps
