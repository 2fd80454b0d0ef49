"""AxialVS: a clip-level segmenter with within-clip and cross-clip tracking (paper Fig. 2).

Data flow of `forward_clip` for a clip of T frames:
    backbone (per frame) -> within-clip tracking (MSDeformAttn + axial-trajectory attention)
    -> pixel decoder (per frame) -> transformer decoder (all T frames at once)
    -> N class-labelled tubes (masks over T x h x w at stride 4).
The clip segmenter is Video-kMaX (kMaX pixel decoder, k-means decoder) or Tube-Link (the
MSDeformAttn encoder with inserted axial-trajectory layers as within-clip module, an FPN
pixel decoder, the masked-attention decoder); both fill the same three slots.
`refine` is the offline step over the aligned queries of all K clips of a video, and
`decode_masks` turns a refined per-clip kernel and that clip's pixel features into masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .cross_clip import CrossClipTracking, RefineOutput
from .errors import ConfigError
from .kmax_decoder import KMaXTransformerDecoder, Prediction
from .layers.trajectory import AxialAttentionMaps
from .mask2former.decoder import Mask2FormerDecoder
from .mask2former.encoder import Mask2FormerEncoder
from .mask2former.pixel_decoder import Mask2FormerPixelDecoder
from .pixel_decoder import KMaXPixelDecoder
from .semantic_head import SemanticHead
from .within_clip import AttentionRequest, WithinClipTracking


@dataclass
class ClipOutput:
    """Predictions for a batch of clips (h, w = stride-4 size of the input)."""

    queries: Tensor  # (B, N, D) clip object queries
    mask_embeddings: Tensor  # (B, N, E) mask kernels; query similarity for cross-clip matching
    class_logits: Tensor  # (B, N, C+1), last = void
    mask_logits: Tensor  # (B, N, T, h, w)
    pixel_features: Tensor  # (B, E, T, h, w); unit length along E for Video-kMaX
    # (B, N, F) what clips are matched on (cosine similarity): the mask embeddings for
    # Video-kMaX, the decoder's final query features (before its post-norm) for Tube-Link,
    # as in the official code of each
    match_embeddings: Tensor | None = None
    aux: list[Prediction] | None = None  # per k-means layer, when `return_aux`
    semantic_logits: Tensor | None = None  # (B, C+1, T, h, w), when `return_aux`
    attention: AxialAttentionMaps | None = None  # when an `attention` request is given

    def __post_init__(self) -> None:
        if self.match_embeddings is None:
            self.match_embeddings = self.mask_embeddings


class AxialVS(nn.Module):
    """Axial-VS over a Video-kMaX or Tube-Link clip segmenter. Parts come from `build_axialvs`.

    Args:
        backbone: per-frame network with `out_channels` (res2..res5).
        within_clip: within-clip tracking module (`WithinClipTracking`, or for Tube-Link the
            `Mask2FormerEncoder`), or None (the plain Video-kMaX baseline). Called as
            `within_clip(features, T, attention) -> (features, maps)`.
        pixel_decoder, decoder: `features -> PixelDecoderOutput` and
            `(multi_scale, pixel, T, return_aux) -> DecoderOutput` (kMaX or Mask2Former).
        semantic_head: auxiliary semantic head (training), or None.
        cross_clip: cross-clip tracking module, or None (near-online only).
        clip_length: T the model was trained with.
        pixel_mean, pixel_std: input normalisation of 0..255 RGB values.
    """

    def __init__(
        self,
        *,
        backbone: nn.Module,
        within_clip: WithinClipTracking | Mask2FormerEncoder | None,
        pixel_decoder: KMaXPixelDecoder | Mask2FormerPixelDecoder,
        decoder: KMaXTransformerDecoder | Mask2FormerDecoder,
        semantic_head: SemanticHead | None,
        cross_clip: CrossClipTracking | None,
        clip_length: int,
        pixel_mean: tuple[float, ...],
        pixel_std: tuple[float, ...],
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.within_clip = within_clip
        self.pixel_decoder = pixel_decoder
        self.decoder = decoder
        self.semantic_head = semantic_head
        self.cross_clip = cross_clip
        self.clip_length = clip_length
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(1, 1, 3, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(1, 1, 3, 1, 1), False)

    def normalize(self, clip: Tensor) -> Tensor:
        """(B, T, 3, H, W) RGB in 0..255 (any dtype) -> normalised float."""
        return (clip.to(self.pixel_mean.dtype) - self.pixel_mean) / self.pixel_std

    def forward_clip(
        self, clip: Tensor, *, return_aux: bool = False, attention: AttentionRequest | None = None
    ) -> ClipOutput:
        """Segment a batch of clips.

        Args:
            clip: (B, T, 3, H, W) RGB values in 0..255. Any H, W; sizes of the form 32k + 1
                match how kMaX models are trained (Tube-Link: multiples of 32).
            return_aux: also return per-layer predictions and semantic logits (training).
            attention: return the stage-1 maps of one within-clip axial-trajectory layer.

        Returns:
            `ClipOutput` with masks at stride 4 (h = ceil(H / 4) for the ResNet backbones).
        """
        if clip.ndim != 5 or clip.shape[2] != 3:
            raise ValueError(f"expected a clip of shape (B, T, 3, H, W), got {tuple(clip.shape)}")
        b, t = clip.shape[:2]
        x = self.normalize(clip).flatten(0, 1)  # (B T) 3 H W
        feats = self.backbone(x)
        maps = None
        if self.within_clip is not None:
            feats, maps = self.within_clip(feats, t, attention)
        elif attention is not None:
            raise ConfigError("this model has no within-clip tracking module, so no attention maps")
        dec = self.pixel_decoder(feats)
        out = self.decoder(dec.multi_scale, dec.pixel, t, return_aux=return_aux)
        semantic = None
        if return_aux and self.semantic_head is not None:
            s = self.semantic_head(feats)  # (B T) C h w
            semantic = s.view(b, t, *s.shape[1:]).transpose(1, 2)
        final = out.final
        matching = out.queries if isinstance(self.decoder, Mask2FormerDecoder) else None
        return ClipOutput(
            queries=out.queries,
            mask_embeddings=final.mask_kernels,
            match_embeddings=final.mask_kernels if matching is None else matching,
            class_logits=final.class_logits,
            mask_logits=final.mask_logits,
            pixel_features=final.pixel_features,
            aux=out.aux,
            semantic_logits=semantic,
            attention=maps,
        )

    def forward(self, clip: Tensor) -> ClipOutput:
        return self.forward_clip(clip)

    def _cross_clip(self) -> CrossClipTracking:
        if self.cross_clip is None:
            raise ConfigError(
                "this model has no cross-clip tracking module; use near-online mode or a model "
                "built with cross_clip.enabled=True"
            )
        return self.cross_clip

    def refine(self, queries: Tensor, *, return_aux: bool = False) -> RefineOutput:
        """Refine the aligned clip queries (B, K, N, D) of whole videos (offline mode)."""
        return self._cross_clip()(queries, return_aux=return_aux)

    def decode_masks(self, kernels: Tensor, pixel_features: Tensor) -> Tensor:
        """Masks of refined queries for one clip: kernels (B, N, E), pixel features
        (B, E, T, h, w) -> mask logits (B, N, T, h, w)."""
        return self._cross_clip().decode_masks(kernels, pixel_features)
