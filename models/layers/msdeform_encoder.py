"""A multi-scale deformable-attention encoder layer and helpers to (un)flatten levels.

Levels are flattened row-major and concatenated along one sequence axis S = sum(H_l * W_l);
`spatial_shapes` (L, 2) holds (H_l, W_l) and `level_start_index` (L,) the offset of each level.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .msdeform_attn import MSDeformAttn, spatial_shape_list


def flatten_levels(features: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Concatenate feature maps into one sequence.

    Args:
        features: L maps (B, C, H_l, W_l).

    Returns:
        flat (B, S, C), spatial_shapes (L, 2) long (H_l, W_l), level_start_index (L,) long.
    """
    if not features:
        raise ValueError("flatten_levels needs at least one feature map")
    device = features[0].device
    flat = torch.cat([f.flatten(2).transpose(1, 2) for f in features], 1)  # (B, S, C)
    shapes = torch.tensor([tuple(f.shape[-2:]) for f in features], dtype=torch.long, device=device)
    sizes = shapes.prod(1)  # (L,)
    starts = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])  # (L,)
    return flat, shapes, starts


def split_levels(flat: Tensor, spatial_shapes: Tensor) -> list[Tensor]:
    """Inverse of `flatten_levels`: (B, S, C) -> L maps (B, C, H_l, W_l)."""
    shapes = spatial_shape_list(spatial_shapes)
    b, s, c = flat.shape
    if sum(h * w for h, w in shapes) != s:
        raise ValueError(f"sequence of {s} positions does not match spatial_shapes {shapes}")
    parts = flat.split([h * w for h, w in shapes], dim=1)  # L x (B, H_l*W_l, C)
    return [
        part.transpose(1, 2).reshape(b, c, h, w) for part, (h, w) in zip(parts, shapes, strict=True)
    ]


def get_reference_points(
    spatial_shapes: Tensor,
    valid_ratios: Tensor | None = None,
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """Normalised (x, y) centres of every position of every level, as seen from each level.

    Position (i, j) of a level H x W has centre ((j + 0.5) / W, (i + 0.5) / H). With
    `valid_ratios` (the unpadded fraction of each level, (x, y)) the centres are taken within
    the valid region of their own level and then scaled to each level's valid region, as in
    Deformable DETR.

    Args:
        spatial_shapes: (L, 2) (H_l, W_l).
        valid_ratios: (B, L, 2) fractions (x, y) in (0, 1], or None for unpadded maps.
        device: defaults to the device of `spatial_shapes`.

    Returns:
        (B, S, L, 2), with B = 1 when `valid_ratios` is None (it broadcasts).
    """
    shapes = spatial_shape_list(spatial_shapes)
    if device is None:
        device = spatial_shapes.device if isinstance(spatial_shapes, Tensor) else "cpu"
    if valid_ratios is None:
        valid_ratios = torch.ones(1, len(shapes), 2, device=device)
    valid_ratios = valid_ratios.to(device=device, dtype=torch.float32)
    points = []
    for level, (h, w) in enumerate(shapes):
        ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5)[:, None].expand(h, w)
        xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5)[None, :].expand(h, w)
        ratio = valid_ratios[:, level]  # (B, 2) (x, y)
        x = xs.reshape(1, -1) / (ratio[:, 0:1] * w)  # (B, H*W)
        y = ys.reshape(1, -1) / (ratio[:, 1:2] * h)  # (B, H*W)
        points.append(torch.stack([x, y], -1))  # (B, H*W, 2)
    ref = torch.cat(points, 1)  # (B, S, 2)
    return ref[:, :, None, :] * valid_ratios[:, None, :, :]  # (B, S, L, 2)


class MSDeformEncoderLayer(nn.Module):
    """Post-norm encoder layer: deformable self-attention, then an FFN.

    src -> src + attn(src + pos) -> norm1 -> + linear2(relu(linear1(.))) -> norm2.

    Args:
        d_model: channels C.
        d_ffn: hidden width of the FFN.
        dropout: dropout after attention, inside and after the FFN.
        n_levels, n_heads, n_points: as for `MSDeformAttn`.
    """

    def __init__(
        self,
        d_model: int = 256,
        d_ffn: int = 1024,
        dropout: float = 0.0,
        n_levels: int = 3,
        n_heads: int = 8,
        n_points: int = 4,
    ) -> None:
        super().__init__()
        self.self_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.dropout2 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.dropout3 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)
        for linear in (self.linear1, self.linear2):  # as Deformable DETR's encoder does
            nn.init.xavier_uniform_(linear.weight)

    def forward(
        self,
        src: Tensor,
        pos: Tensor | None,
        reference_points: Tensor,
        spatial_shapes: Tensor,
        level_start_index: Tensor | None = None,
        padding_mask: Tensor | None = None,
    ) -> Tensor:
        """Args:
            src: (B, S, C) flattened levels.
            pos: (B, S, C) position (+ level) embeddings added to the queries, or None.
            reference_points: (B, S, L, 2) from `get_reference_points`.
            spatial_shapes: (L, 2); level_start_index: (L,).
            padding_mask: (B, S) bool, True at padding, or None.

        Returns:
            (B, S, C).
        """
        query = src if pos is None else src + pos
        attn = self.self_attn(
            query, reference_points, src, spatial_shapes, level_start_index, padding_mask
        )
        src = self.norm1(src + self.dropout1(attn))
        ffn = self.linear2(self.dropout2(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout3(ffn))
