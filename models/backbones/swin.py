"""Swin Transformer feature extractor with mmdetection's `SwinTransformer` state-dict keys.

Layout (the one the official Tube-Link Swin-L checkpoints use):
`patch_embed.projection` (4x4 stride-4 conv) + `patch_embed.norm`; `stages.i.blocks.j` with
`norm1`, `attn.w_msa.{qkv, proj, relative_position_bias_table, relative_position_index}`,
`norm2`, `ffn.layers.0.0` / `ffn.layers.1` (the MLP); `stages.i.downsample` (patch merging:
`norm`, `reduction`) after stages 0..2; `norm0`..`norm3` on the four outputs.

Computation as mmdetection's: inputs padded bottom/right to a multiple of 4 before the patch
embedding and to even sizes before each patch merging (so the level of stride s has side
ceil(S / s), as the ResNets give); each block pads its map to whole windows, odd blocks shift
the windows by half a window with the -100 attention mask between regions; patch merging
gathers each 2x2 neighbourhood in `nn.Unfold` order (channel-major: c * 4 + dy * 2 + dx),
which is mmdetection's order, not the original Swin code's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..layers.common import DropPath

LEVEL_NAMES = ("res2", "res3", "res4", "res5")

# name -> (embed dims, blocks per stage, heads per stage, window size)
SWIN_SPECS: dict[str, tuple[int, tuple[int, ...], tuple[int, ...], int]] = {
    "tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24), 7),
    "small": (96, (2, 2, 18, 2), (3, 6, 12, 24), 7),
    "base": (128, (2, 2, 18, 2), (4, 8, 16, 32), 12),
    "large": (192, (2, 2, 18, 2), (6, 12, 24, 48), 12),
}


def _relative_position_index(window: int) -> Tensor:
    """(w*w, w*w) indices into the (2w-1)^2 bias table, as mmdetection computes them."""
    seq1 = torch.arange(0, (2 * window - 1) * window, 2 * window - 1)
    seq2 = torch.arange(0, window)
    coords = (seq1[:, None] + seq2[None, :]).reshape(1, -1)
    return (coords + coords.T).flip(1).contiguous()


class WindowAttention(nn.Module):
    """Multi-head self-attention within windows, with a learned relative-position bias."""

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads = heads
        self.window = window
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", _relative_position_index(window))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """x: (B*nW, w*w, C); mask: (nW, w*w, w*w) of 0 / -100, or None."""
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]  # (B*nW, M, n, d)
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b // nw, nw, self.heads, n, n) + mask[None, :, None]
            attn = attn.view(-1, self.heads, n, n)
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class ShiftedWindowAttention(nn.Module):
    """Window attention over a (B, H*W, C) map, windows shifted by `shift` (0: none)."""

    def __init__(self, dim: int, heads: int, window: int, shift: int) -> None:
        super().__init__()
        self.window = window
        self.shift = shift
        self.w_msa = WindowAttention(dim, heads, window)

    def _partition(self, x: Tensor) -> Tensor:
        b, h, w, c = x.shape
        s = self.window
        x = x.view(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(-1, s * s, c)

    def _mask(self, h: int, w: int, device: torch.device) -> Tensor:
        s, t = self.window, self.shift
        regions = torch.zeros(1, h, w, 1, device=device)
        cuts = (slice(0, -s), slice(-s, -t), slice(-t, None))
        label = 0
        for rows in cuts:
            for cols in cuts:
                regions[:, rows, cols, :] = label
                label += 1
        windows = self._partition(regions).squeeze(-1)  # (nW, s*s)
        diff = windows[:, None, :] - windows[:, :, None]
        return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        b, _, c = x.shape
        h, w = size
        s = self.window
        x = F.pad(x.view(b, h, w, c), (0, 0, 0, (s - w % s) % s, 0, (s - h % s) % s))
        hp, wp = x.shape[1:3]
        mask = None
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
            mask = self._mask(hp, wp, x.device)
        y = self.w_msa(self._partition(x), mask)  # (B*nW, s*s, C)
        y = y.view(b, hp // s, wp // s, s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
        if self.shift > 0:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        return y[:, :h, :w, :].reshape(b, h * w, c)


class SwinMLP(nn.Module):
    """Linear -> GELU -> Linear, keyed `layers.0.0` and `layers.1` as mmcv's FFN."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(dim, hidden), nn.GELU()), nn.Linear(hidden, dim)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class SwinBlock(nn.Module):
    """Pre-norm window attention and MLP, each with a residual. (B, H*W, C) -> same."""

    def __init__(
        self, dim: int, heads: int, window: int, shift: bool, mlp_ratio: int, drop_path: float
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftedWindowAttention(dim, heads, window, window // 2 if shift else 0)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = SwinMLP(dim, mlp_ratio * dim)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), size))
        return x + self.drop_path(self.ffn(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 neighbourhoods (unfold order) -> LayerNorm -> Linear(4C, 2C), stride 2."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor, size: tuple[int, int]) -> tuple[Tensor, tuple[int, int]]:
        b, _, c = x.shape
        h, w = size
        x = x.view(b, h, w, c).permute(0, 3, 1, 2)
        x = F.pad(x, (0, w % 2, 0, h % 2))
        x = F.unfold(x, kernel_size=2, stride=2)  # (B, 4C, h/2 * w/2)
        out = ((h + 1) // 2, (w + 1) // 2)
        return self.reduction(self.norm(x.transpose(1, 2))), out


class SwinStage(nn.Module):
    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int,
        window: int,
        mlp_ratio: int,
        drop_paths: list[float],
        downsample: bool,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, window, j % 2 == 1, mlp_ratio, drop_paths[j])
            for j in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None


class PatchEmbed(nn.Module):
    """4x4 stride-4 conv (`projection`) and LayerNorm (`norm`); input padded to 4k."""

    def __init__(self, dim: int, patch: int = 4) -> None:
        super().__init__()
        self.patch = patch
        self.projection = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        p = self.patch
        h, w = x.shape[-2:]
        x = self.projection(F.pad(x, (0, (p - w % p) % p, 0, (p - h % p) % p)))
        size = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), size


class SwinTransformer(nn.Module):
    """Swin backbone returning its four stage outputs {"res2".."res5"} (B, C_i, H_i, W_i).

    Args:
        size: tiny, small, base or large (embedding width, depths, heads, window 7 or 12).
        drop_path: stochastic-depth rate of the last block (linear from 0).
        window: window size, overriding the size's default.
    """

    def __init__(
        self, size: str = "large", *, drop_path: float = 0.0, window: int | None = None
    ) -> None:
        super().__init__()
        if size not in SWIN_SPECS:
            raise ConfigError(
                f"Swin size {size!r} is not available; choose one of {', '.join(SWIN_SPECS)}"
            )
        dim, depths, heads, default_window = SWIN_SPECS[size]
        window = window or default_window
        self.patch_embed = PatchEmbed(dim)
        n = sum(depths)
        rates = [drop_path * i / max(1, n - 1) for i in range(n)]
        self.stages = nn.ModuleList()
        dims = [dim * 2**i for i in range(4)]
        for i, depth in enumerate(depths):
            first = sum(depths[:i])
            self.stages.append(
                SwinStage(dims[i], depth, heads[i], window, 4, rates[first : first + depth], i < 3)
            )
        for i, d in enumerate(dims):
            self.add_module(f"norm{i}", nn.LayerNorm(d))
        self.out_channels = dict(zip(LEVEL_NAMES, dims, strict=True))
        self.out_strides = {name: 4 * 2**i for i, name in enumerate(LEVEL_NAMES)}
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x: normalised images (B, 3, H, W) -> {"res2".."res5"} at strides 4..32."""
        x, size = self.patch_embed(x)
        out = {}
        for i, stage in enumerate(self.stages):
            for block in stage.blocks:
                x = block(x, size)
            y = getattr(self, f"norm{i}")(x)
            out[LEVEL_NAMES[i]] = y.view(-1, *size, y.shape[-1]).permute(0, 3, 1, 2).contiguous()
            if stage.downsample is not None:
                x, size = stage.downsample(x, size)
        return out
