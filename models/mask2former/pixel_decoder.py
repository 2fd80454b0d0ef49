"""The FPN part of the Mask2Former pixel decoder: stride 4 and the mask features.

The encoder (`encoder.Mask2FormerEncoder`) has already turned res5, res4, res3 into `dim`-channel
maps; here res2 is projected (lateral 1x1 conv + GN), the encoded stride-8 map is upsampled
onto it and added, a 3x3 conv + GN + ReLU smooths the sum, and a 1x1 conv gives the mask
features. Everything runs per frame on (B*T, C, H, W).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..pixel_decoder import PixelDecoderOutput
from .blocks import ConvGN

ENCODED_LEVELS = ("res5", "res4", "res3")


class Mask2FormerPixelDecoder(nn.Module):
    """Args:
    in_channels: backbone channels per level ("res2" is the one read here).
    dim: channels of the encoded levels and of the FPN output.
    mask_dim: channels E of the mask features.
    """

    def __init__(self, in_channels: dict[str, int], *, dim: int, mask_dim: int) -> None:
        super().__init__()
        self.lateral_convs = nn.ModuleList(
            [ConvGN(in_channels["res2"], dim, bias=False, act=False)]
        )
        self.output_convs = nn.ModuleList([ConvGN(dim, dim, 3, bias=False, act=True)])
        self.mask_feature = nn.Conv2d(dim, mask_dim, 1)
        for conv in (self.lateral_convs[0].conv, self.output_convs[0].conv, self.mask_feature):
            nn.init.kaiming_uniform_(conv.weight, a=1)
        nn.init.zeros_(self.mask_feature.bias)
        self.out_channels = (dim, dim, dim, mask_dim)

    def forward(self, features: dict[str, Tensor]) -> PixelDecoderOutput:
        """features: "res2" (B*T, C2, H/4, W/4) from the backbone and encoded "res3".."res5"
        (B*T, dim, ., .). Returns multi_scale = encoded strides 32, 16, 8 and pixel = mask
        features (B*T, mask_dim, H/4, W/4)."""
        low = features["res3"]
        x = self.lateral_convs[0](features["res2"])
        x = x + F.interpolate(low, size=x.shape[-2:], mode="bilinear", align_corners=False)
        x = self.output_convs[0](x)
        return PixelDecoderOutput(
            multi_scale=[features[lv] for lv in ENCODED_LEVELS], pixel=self.mask_feature(x)
        )
