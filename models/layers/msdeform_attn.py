"""Multi-scale deformable attention (Deformable DETR) in pure PyTorch.

Each query attends, per head, to `n_points` locations on each of the `n_levels` feature maps:
the locations are the query's reference point plus learned offsets, values are read there by
bilinear interpolation, and a softmax over all levels x points weighs them.

Sampling convention (the same as the reference CUDA kernel): a location (x, y) in normalised
[0, 1] image coordinates reads the pixel coordinate (x * W - 0.5, y * H - 0.5) of a level of
size H x W, so pixel centres lie at (i + 0.5) / W; corners outside the map contribute zero.
`grid_sample(..., align_corners=False, padding_mode="zeros")` on the grid 2 * loc - 1 computes
exactly that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError


def spatial_shape_list(spatial_shapes: Tensor | Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """[(H, W), ...] as Python ints (one host sync for a device tensor)."""
    rows = spatial_shapes.tolist() if isinstance(spatial_shapes, Tensor) else spatial_shapes
    return [(int(h), int(w)) for h, w in rows]


def ms_deform_attn_core(
    value: Tensor,
    spatial_shapes: Tensor | Sequence[Sequence[int]],
    sampling_locations: Tensor,
    attention_weights: Tensor,
) -> Tensor:
    """Weighted sum of bilinearly sampled values, one `grid_sample` call per level.

    Args:
        value: (B, S, M, D), S = sum of H_l * W_l over the levels, flattened row-major.
        spatial_shapes: (L, 2) sizes (H_l, W_l) of the levels.
        sampling_locations: (B, Lq, M, L, P, 2) normalised (x, y) in [0, 1] (may lie outside).
        attention_weights: (B, Lq, M, L, P).

    Returns:
        (B, Lq, M * D).
    """
    shapes = spatial_shape_list(spatial_shapes)
    b, s, m, d = value.shape
    _, lq, _, n_levels, p, _ = sampling_locations.shape
    if n_levels == 0 or p == 0:
        raise ValueError("ms_deform_attn_core needs at least one level and one sampling point")
    if len(shapes) != n_levels or sum(h * w for h, w in shapes) != s:
        raise ValueError(
            f"value has {s} positions and sampling locations {n_levels} levels, but "
            f"spatial_shapes {shapes} describe {len(shapes)} levels of {sum(h * w for h, w in shapes)}"
        )
    # (B, S, M, D) -> (B, M, D, S) -> (B*M, D, S): one map per (batch, head)
    value = value.permute(0, 2, 3, 1).reshape(b * m, d, s)
    # (B, Lq, M, L, P, 2) -> (B, M, L, P, Lq, 2) -> (B*M, L, P, Lq, 2), in grid_sample's [-1, 1].
    # Points before queries: each point's samples come out contiguous over Lq, and neighbouring
    # queries read neighbouring pixels (about twice as fast on CPU as queries before points).
    grids = (
        (2 * sampling_locations - 1).permute(0, 2, 3, 4, 1, 5).reshape(b * m, n_levels, p, lq, 2)
    )
    # (B, Lq, M, L, P) -> (B, M, L, P, Lq) -> (B*M, L, P, 1, Lq): broadcast over D
    weights = attention_weights.permute(0, 2, 3, 4, 1).reshape(b * m, n_levels, p, 1, lq)

    out: Tensor | None = None  # (B*M, D, Lq)
    start = 0
    for level, (h, w) in enumerate(shapes):
        value_l = value[:, :, start : start + h * w].view(b * m, d, h, w)  # (B*M, D, H, W)
        start += h * w
        sampled = F.grid_sample(
            value_l,
            grids[:, level].to(value_l.dtype),  # (B*M, P, Lq, 2)
            mode="bilinear",
            padding_mode="zeros",
            align_corners=False,
        )  # (B*M, D, P, Lq)
        for point in range(p):  # accumulate in place: no (B*M, D, P, Lq) product tensor
            if out is None:
                out = sampled[:, :, point] * weights[:, level, point]
            else:
                out = out.addcmul_(sampled[:, :, point], weights[:, level, point])
    # (B*M, D, Lq) -> (B, M*D, Lq) -> (B, Lq, M*D)
    return out.view(b, m * d, lq).transpose(1, 2)  # type: ignore[union-attr]


class MSDeformAttn(nn.Module):
    """Multi-scale deformable attention.

    Args:
        d_model: channels C of queries and values (divisible by `n_heads`).
        n_levels: number of feature levels L.
        n_heads: number of heads M.
        n_points: sampling points P per head and level.
    """

    def __init__(
        self, d_model: int = 256, n_levels: int = 3, n_heads: int = 8, n_points: int = 4
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ConfigError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        if min(n_levels, n_heads, n_points) < 1:
            raise ConfigError("n_levels, n_heads and n_points must be >= 1")
        self.d_model = d_model
        self.n_levels = n_levels
        self.n_heads = n_heads
        self.n_points = n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Deformable DETR's initialisation.

        Offsets start as a ring: head k points along the angle 2*pi*k/M and point i lies at
        radius i + 1 pixels of each level (the larger of |cos|, |sin| is scaled to 1); the
        attention is uniform; the value and output projections are Xavier-uniform.
        """
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        ring = torch.stack([angles.cos(), angles.sin()], -1)  # (M, 2)
        ring = ring / ring.abs().max(-1, keepdim=True).values
        radius = torch.arange(1, self.n_points + 1, dtype=torch.float32)  # (P,)
        bias = ring[:, None, None, :] * radius[None, None, :, None]  # (M, 1, P, 2)
        bias = bias.expand(self.n_heads, self.n_levels, self.n_points, 2)  # (M, L, P, 2)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(bias.reshape(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for proj in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)

    def forward(
        self,
        query: Tensor,
        reference_points: Tensor,
        input_flatten: Tensor,
        spatial_shapes: Tensor,
        level_start_index: Tensor | None = None,
        input_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """The attention, `output_proj(sample(...))`; arguments and shapes as for `sample`."""
        return self.output_proj(
            self.sample(
                query,
                reference_points,
                input_flatten,
                spatial_shapes,
                level_start_index,
                input_padding_mask,
            )
        )

    def sample(
        self,
        query: Tensor,
        reference_points: Tensor,
        input_flatten: Tensor,
        spatial_shapes: Tensor,
        level_start_index: Tensor | None = None,
        input_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """The attention before its output projection (layers that insert a step there, such
        as the Tube-Link variant's temporal layers, call this and `output_proj` themselves).

        Args:
            query: (B, Lq, C), usually the features plus position embeddings.
            reference_points: (B, Lq, L, 2) normalised (x, y) in [0, 1]; a batch of 1
                broadcasts over B.
            input_flatten: (B, S, C) the L levels flattened row-major and concatenated.
            spatial_shapes: (L, 2) long, (H_l, W_l) per level.
            level_start_index: (L,) offsets of the levels in S. Accepted for the usual
                signature; the offsets are derived from `spatial_shapes`.
            input_padding_mask: (B, S) bool, True where a position is padding (its value is
                zeroed), or None.

        Returns:
            (B, Lq, C).
        """
        b, lq, c = query.shape
        m, n_levels, p = self.n_heads, self.n_levels, self.n_points
        if reference_points.shape[-2:] != (n_levels, 2):
            raise ValueError(
                f"reference_points must be (B, Lq, {n_levels}, 2), got {tuple(reference_points.shape)}"
            )
        value = self.value_proj(input_flatten)  # (B, S, C)
        if input_padding_mask is not None:
            value = value.masked_fill(input_padding_mask[..., None], 0.0)
        value = value.view(b, value.shape[1], m, c // m)  # (B, S, M, D)

        offsets = self.sampling_offsets(query).view(b, lq, m, n_levels, p, 2)  # (B, Lq, M, L, P, 2)
        weights = self.attention_weights(query).view(b, lq, m, n_levels * p)
        weights = weights.softmax(-1).view(b, lq, m, n_levels, p)  # (B, Lq, M, L, P)

        shapes = spatial_shapes.to(device=offsets.device, dtype=offsets.dtype)  # (L, 2) (H, W)
        normalizer = shapes.flip(-1)  # (L, 2) (W, H): offsets are in pixels of each level
        # (B, Lq, 1, L, 1, 2) + (B, Lq, M, L, P, 2) / (L, 1, 2)
        locations = reference_points[:, :, None, :, None, :] + offsets / normalizer[:, None, :]
        return ms_deform_attn_core(value, spatial_shapes, locations, weights)  # (B, Lq, C)

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, n_levels={self.n_levels}, n_heads={self.n_heads}, "
            f"n_points={self.n_points}"
        )
