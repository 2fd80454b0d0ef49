"""Sine position embeddings (DETR style) for images (2-D) and clips (3-D: t, y, x).

A coordinate u (1-based position, or with `normalize` the position divided by the length and
multiplied by `scale`) is encoded over F channels as
    channel 2k: sin(u / temperature^(2k / F)),  channel 2k + 1: cos(u / temperature^(2k / F)).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import ConfigError

CACHE_SIZE = 8  # embeddings of distinct shapes kept per module


def _coordinate(not_mask: Tensor, dim: int, normalize: bool, scale: float) -> Tensor:
    """Running count of valid positions along `dim` (1-based), optionally scaled to (0, scale]."""
    coord = not_mask.cumsum(dim, dtype=torch.float32)
    if normalize:
        last = coord.narrow(dim, coord.shape[dim] - 1, 1)
        coord = coord / (last + 1e-6) * scale
    return coord


def _encode(coord: Tensor, feats: int, temperature: float) -> Tensor:
    """(...,) coordinates -> (..., feats) interleaved sin / cos features."""
    k = torch.arange(feats, device=coord.device, dtype=torch.float32)
    freq = temperature ** (2 * torch.div(k, 2, rounding_mode="floor") / feats)  # (feats,)
    angle = coord[..., None] / freq  # (..., feats)
    return torch.stack([angle[..., 0::2].sin(), angle[..., 1::2].cos()], -1).flatten(-2)


class _SineBase(nn.Module):
    def __init__(
        self,
        num_pos_feats: int = 128,
        temperature: float = 10000.0,
        normalize: bool = True,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if num_pos_feats <= 0 or num_pos_feats % 2:
            raise ConfigError(f"num_pos_feats={num_pos_feats} must be a positive even number")
        if scale is not None and not normalize:
            raise ConfigError("a position-embedding scale needs normalize=True")
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        # without a mask the embedding depends on the shape alone: the last few are kept
        # (callers only read them; a clip after clip of one video reuses one)
        self._cache: dict[tuple, Tensor] = {}

    def _cached(self, x: Tensor, make) -> Tensor:
        key = (tuple(x.shape), x.device, x.dtype)
        pos = self._cache.get(key)
        if pos is None:
            pos = make()
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = pos
        return pos

    def extra_repr(self) -> str:
        return (
            f"num_pos_feats={self.num_pos_feats}, temperature={self.temperature}, "
            f"normalize={self.normalize}, scale={self.scale:.4f}"
        )


class PositionEmbeddingSine(_SineBase):
    """2-D sine embedding: the first `num_pos_feats` channels encode y, the next ones x.

    Args:
        num_pos_feats: channels per axis (C / 2 for C-channel features; even).
        temperature: base of the frequency progression.
        normalize: scale coordinates to (0, `scale`] (default 2*pi) per image.
    """

    @torch.no_grad()
    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Args:
            x: (B, C', H, W); only its shape, device and dtype are used.
            mask: (B, H, W) bool, True at padding, or None.

        Returns:
            (B, 2 * num_pos_feats, H, W), dtype of `x` (without a mask: a kept tensor that
            later calls of the same shape return again; do not modify it in place).
        """
        if mask is None:
            b, _, h, w = x.shape
            return self._cached(
                x, lambda: self._embed(x, torch.zeros(b, h, w, dtype=torch.bool, device=x.device))
            )
        return self._embed(x, mask)

    def _embed(self, x: Tensor, mask: Tensor) -> Tensor:
        not_mask = ~mask
        y = _coordinate(not_mask, 1, self.normalize, self.scale)  # (B, H, W)
        xx = _coordinate(not_mask, 2, self.normalize, self.scale)  # (B, H, W)
        feats, temp = self.num_pos_feats, self.temperature
        pos = torch.cat([_encode(y, feats, temp), _encode(xx, feats, temp)], -1)  # (B, H, W, 2F)
        return pos.permute(0, 3, 1, 2).to(x.dtype)  # (B, 2F, H, W)


class PositionEmbeddingSine3D(_SineBase):
    """3-D sine embedding for clips, as the Axial-VS temporal encoder uses it.

    y and x are encoded over `num_pos_feats` channels each and concatenated (y first); t is
    encoded over all 2 * `num_pos_feats` channels (frequencies spread over 2F) and added.

    Args:
        num_pos_feats: channels per spatial axis (C / 2 for C-channel features; even).
        temperature: base of the frequency progression.
        normalize: scale t, y, x to (0, `scale`] (default 2*pi) per clip.
    """

    @torch.no_grad()
    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Args:
            x: (B, T, C', H, W); only its shape, device and dtype are used.
            mask: (B, T, H, W) bool, True at padding, or None.

        Returns:
            (B, T, 2 * num_pos_feats, H, W), dtype of `x` (without a mask: kept, as in 2-D).
        """
        if x.dim() != 5:
            raise ValueError(
                f"PositionEmbeddingSine3D expects (B, T, C, H, W), got {tuple(x.shape)}"
            )
        if mask is None:
            b, t, _, h, w = x.shape
            zeros = (b, t, h, w)
            return self._cached(
                x, lambda: self._embed(x, torch.zeros(zeros, dtype=torch.bool, device=x.device))
            )
        return self._embed(x, mask)

    def _embed(self, x: Tensor, mask: Tensor) -> Tensor:
        not_mask = ~mask
        tt = _coordinate(not_mask, 1, self.normalize, self.scale)  # (B, T, H, W)
        y = _coordinate(not_mask, 2, self.normalize, self.scale)  # (B, T, H, W)
        xx = _coordinate(not_mask, 3, self.normalize, self.scale)  # (B, T, H, W)
        feats, temp = self.num_pos_feats, self.temperature
        spatial = torch.cat([_encode(y, feats, temp), _encode(xx, feats, temp)], -1)  # (B,T,H,W,2F)
        pos = spatial + _encode(tt, 2 * feats, temp)  # (B, T, H, W, 2F)
        return pos.permute(0, 1, 4, 2, 3).to(x.dtype)  # (B, T, 2F, H, W)
