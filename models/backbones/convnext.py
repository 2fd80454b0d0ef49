"""ConvNeXt and ConvNeXt-V2 (tiny / small / base / large) feature extractors.

ConvNeXt-V2 blocks have no layer scale (`gamma`) and a global response normalisation after
the GELU (`grn.gamma`, `grn.beta`, each (1, 1, 1, 4 * dim), as the official ConvNeXt-V2 code).

State-dict keys follow the official ConvNeXt layout as used by kMaX-DeepLab:
`downsample_layers.0` = (4x4 stride-4 conv, channels-first LayerNorm), `downsample_layers.i`
(i = 1..3) = (channels-first LayerNorm, 2x2 stride-2 conv), `stages.i.j` blocks with `dwconv`,
`norm`, `pwconv1`, `pwconv2`, `gamma`. The classifier (`norm`, `head` of the ImageNet model) is
not part of the backbone: drop those keys before `load_state_dict`.

Padding (as in kMaX-DeepLab / deeplab2): the input is zero-padded by (1, 2) on each of top/bottom
and left/right before the stem and by (0, 1) before each 2x2 downsampling, so a side of
length S becomes ceil(S / 4), then ceil(. / 2) at each level: the level of stride s has side
ceil(S / s), the same sizes the ResNets give (97x131 -> 25x33, 13x17, 7x9, 4x5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ..layers.common import DropPath, LayerNorm2d

LEVEL_NAMES = ("res2", "res3", "res4", "res5")

# name -> (blocks per stage, channels per stage)
CONVNEXT_SPECS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
}


class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2's GRN on channels-last (B, H, W, C): each channel's L2 norm over the image,
    divided by its mean over channels, rescales the input; `gamma`, `beta` start at zero."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: Tensor) -> Tensor:
        g = torch.norm(x, p=2, dim=(1, 2), keepdim=True)  # (B, 1, 1, C)
        n = g / (g.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * n) + self.beta + x


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv -> LayerNorm -> Linear 4x -> GELU -> Linear -> layer scale, residual.

    Input and output: (B, dim, H, W).
    """

    def __init__(
        self, *, dim: int, drop_path: float = 0.0, layer_scale: float = 1e-6, grn: bool = False
    ) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.grn = GlobalResponseNorm(4 * dim) if grn else None
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale)) if layer_scale > 0 else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # (B, H, W, C)
        y = self.act(self.pwconv1(self.norm(y)))  # (B, H, W, 4C)
        if self.grn is not None:
            y = self.grn(y)
        y = self.pwconv2(y)  # (B, H, W, C)
        if self.gamma is not None:
            y = y * self.gamma
        return x + self.drop_path(y.permute(0, 3, 1, 2))  # (B, C, H, W)


class ConvNeXt(nn.Module):
    """ConvNeXt backbone returning the outputs of its four stages.

    Args:
        depths: blocks per stage.
        dims: channels per stage.
        drop_path: stochastic-depth rate of the last block; it grows linearly from 0 over
            all blocks.
        layer_scale: initial value of the per-channel `gamma` (0 disables it).
        grn: ConvNeXt-V2 blocks (global response norm; use with layer_scale=0).

    Attributes:
        out_channels: {"res2": dims[0], ..., "res5": dims[3]}.
        out_strides: {"res2": 4, "res3": 8, "res4": 16, "res5": 32}.
    """

    def __init__(
        self,
        *,
        depths: tuple[int, ...] = (3, 3, 9, 3),
        dims: tuple[int, ...] = (96, 192, 384, 768),
        drop_path: float = 0.0,
        layer_scale: float = 1e-6,
        grn: bool = False,
    ) -> None:
        super().__init__()
        if len(depths) != 4 or len(dims) != 4:
            raise ConfigError(f"ConvNeXt needs 4 depths and 4 dims, got {depths} and {dims}")
        if not 0.0 <= drop_path < 1.0:
            raise ConfigError(f"drop_path={drop_path} must be in [0, 1)")
        stem = nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4), LayerNorm2d(dims[0]))
        self.downsample_layers = nn.ModuleList([stem])
        for i in range(3):
            self.downsample_layers.append(
                nn.Sequential(
                    LayerNorm2d(dims[i]), nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2)
                )
            )
        n = sum(depths)
        rates = [drop_path * i / max(1, n - 1) for i in range(n)]  # stochastic depth per block
        self.stages = nn.ModuleList()
        for i, count in enumerate(depths):
            first = sum(depths[:i])
            self.stages.append(
                nn.Sequential(
                    *(
                        ConvNeXtBlock(
                            dim=dims[i],
                            drop_path=rates[first + j],
                            layer_scale=layer_scale,
                            grn=grn,
                        )
                        for j in range(count)
                    )
                )
            )
        self.out_channels = dict(zip(LEVEL_NAMES, dims, strict=True))
        self.out_strides = {name: 4 * 2**i for i, name in enumerate(LEVEL_NAMES)}
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Args:
            x: normalised images (B, 3, H, W).

        Returns:
            {"res2".."res5"}: (B, out_channels[k], ceil(H / s), ceil(W / s)) for stride s.
        """
        out = {}
        for i, name in enumerate(LEVEL_NAMES):
            pad = (1, 2, 1, 2) if i == 0 else (0, 1, 0, 1)  # (left, right, top, bottom)
            x = self.downsample_layers[i](F.pad(x, pad))
            x = self.stages[i](x)
            out[name] = x
        return out


def convnext(
    size: str, *, drop_path: float = 0.0, layer_scale: float = 1e-6, v2: bool = False
) -> ConvNeXt:
    """ConvNeXt (or with `v2` ConvNeXt-V2, which has GRN and no layer scale) of a named
    `size`: tiny, small, base or large."""
    if size not in CONVNEXT_SPECS:
        raise ConfigError(
            f"ConvNeXt size {size!r} is not available; choose one of {', '.join(CONVNEXT_SPECS)}"
        )
    depths, dims = CONVNEXT_SPECS[size]
    if v2:
        return ConvNeXt(depths=depths, dims=dims, drop_path=drop_path, layer_scale=0.0, grn=True)
    return ConvNeXt(depths=depths, dims=dims, drop_path=drop_path, layer_scale=layer_scale)
