"""Cross-clip tracking module (paper section 3.3, Figs. 5-6): refines all clip queries of a video.

N_c layers over the (K clips x N queries) of a video whose queries were first aligned across
clips by Hungarian matching. Each layer: trajectory attention over the K*N queries (stage 1
over the N queries of each clip, stage 2 along the K clips) + residual + LayerNorm, then
Temporal-ASPP (three dilated temporal convolutions per query track, 1x1 conv, LayerNorm,
GELU) + residual + LayerNorm. After every layer the heads predict, per query, one class for the
whole video (clip class embeddings weighted by a softmax over clips: the temporal 1-D conv
class head) and one mask kernel per clip; video masks are kernel . clip pixel features.

Two sets of heads, by the clip segmenter the module sits on (`head`): "kmax" (Video-kMaX:
conv + BN projections, void-biased class logits, batch-normed mask logits) and "mask2former"
(Tube-Link: LayerNorm, a linear clip weight and class head, an MLP mask head; no void bias,
no mask norm), as the two official instantiations do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .kmax_decoder import MaskNorm, void_prior_bias
from .layers.common import ConvNorm, trunc_normal_
from .layers.space_time import MultiHeadAttention
from .layers.trajectory import TrajectoryAttention
from .mask2former.blocks import mask_mlp

# Each head's modules and the clip-segmenter modules they correspond to: stage-2 training
# starts the cross-clip heads from these (the official stage 2 does), and the Tube-Link
# checkpoints store one copy shared by both.
SEGMENTER_HEADS: dict[str, dict[str, str]] = {
    "kmax": {
        "class_proj": "decoder.class_proj",
        "mask_proj": "decoder.mask_proj",
        "mask_head": "decoder.predictor.mask_head",
        "class_head": "decoder.predictor.class_head",
        "mask_norm": "decoder.predictor.mask_norm",
    },
    "mask2former": {
        "post_norm": "decoder.post_norm",
        "class_head": "decoder.class_head",
        "mask_head": "decoder.mask_head",
    },
}


class TemporalASPP(nn.Module):
    """Three parallel dilated Conv1d along the clip axis, concatenated, 1x1 conv + LN + GELU."""

    def __init__(
        self, dim: int, rates: tuple[int, ...], kernel_size: int = 3, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(dim, dim, kernel_size, dilation=r, padding="same", padding_mode="replicate")
            for r in rates
        )
        self.project = ConvNorm(len(rates) * dim, dim, norm="ln", act=True, dims=1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x: (S, D, K) -> (S, D, K)."""
        return self.dropout(self.project(torch.cat([conv(x) for conv in self.convs], dim=1)))


class CrossClipLayer(nn.Module):
    """Attention over all clip queries, then Temporal-ASPP along each query's track."""

    def __init__(
        self,
        dim: int,
        heads: int,
        attention: str,
        aspp: bool,
        rates: tuple[int, ...],
        kernel_size: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.kind = attention
        if attention == "axial_trajectory":
            self.attn = TrajectoryAttention(dim, heads, fused_qkv=True)
        elif attention == "self":
            self.attn = MultiHeadAttention(dim, heads)
        elif attention != "none":
            raise ValueError(f"unknown cross-clip attention {attention!r}")
        self.attn_norm = nn.LayerNorm(dim) if attention != "none" else None
        self.aspp = TemporalASPP(dim, rates, kernel_size, dropout) if aspp else None
        self.aspp_norm = nn.LayerNorm(dim) if aspp else None
        self.dropout = nn.Dropout(dropout)
        for name, p in self.named_parameters():
            if p.dim() > 1 and name.startswith("attn."):
                nn.init.xavier_uniform_(p)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, K, N, D) -> (B, K, N, D)."""
        b, k, n, d = x.shape
        if self.kind != "none":
            seq = x.reshape(b, k * n, d)  # clip-major: the N queries of clip 0, then clip 1 ...
            if self.kind == "axial_trajectory":
                upd, _ = self.attn(seq, frames=k)
            else:
                upd = self.attn(seq, seq)
            x = self.attn_norm(seq + self.dropout(upd)).view(b, k, n, d)
        if self.aspp is not None:
            tracks = x.permute(0, 2, 3, 1).reshape(b * n, d, k)  # (B N) D K
            tracks = tracks + self.aspp(tracks)
            x = self.aspp_norm(tracks.transpose(1, 2)).view(b, n, k, d).transpose(1, 2)
        return x


@dataclass
class RefineOutput:
    queries: Tensor  # (B, K, N, D) refined clip queries
    class_logits: Tensor  # (B, N, C+1) one class per query for the whole video
    mask_kernels: Tensor  # (B, K, N, E) per-clip mask kernels
    aux: list[tuple[Tensor, Tensor]] | None  # (class_logits, mask_kernels) after earlier layers


class CrossClipTracking(nn.Module):
    """Args: dim (query channels), heads, num_layers (N_c), attention, aspp, atrous_rates,
    kernel_size, dropout, mask_dim (E), num_classes (without void), head ("kmax" or
    "mask2former", see the module docstring)."""

    def __init__(
        self,
        *,
        dim: int,
        heads: int,
        num_layers: int,
        attention: str,
        aspp: bool,
        atrous_rates: tuple[int, ...],
        kernel_size: int,
        dropout: float,
        mask_dim: int,
        num_classes: int,
        head: str = "kmax",
    ) -> None:
        super().__init__()
        self.num_heads = heads
        self.layers = nn.ModuleList(
            CrossClipLayer(dim, heads, attention, aspp, atrous_rates, kernel_size, dropout)
            for _ in range(num_layers)
        )
        self.head = head
        if head == "mask2former":
            self.post_norm = nn.LayerNorm(dim)
            self.clip_weight_head = nn.Linear(dim, 1)
            self.class_head = nn.Linear(dim, num_classes + 1)
            self.mask_head = mask_mlp(dim, mask_dim)
            self.mask_norm = None
            return
        if head != "kmax":
            raise ValueError(f"unknown cross-clip head {head!r}; choose kmax or mask2former")
        self.class_proj = ConvNorm(dim, dim, act=True, dims=1)
        self.mask_proj = ConvNorm(dim, dim, act=True, dims=1)
        self.mask_head = ConvNorm(dim, mask_dim, dims=1)
        self.class_head = nn.Conv1d(dim, num_classes + 1, 1)
        self.clip_weight_head = nn.Conv1d(dim, 1, 1)
        for conv in (self.class_head, self.clip_weight_head):
            trunc_normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)
        self.mask_norm = MaskNorm()
        self.void_bias = void_prior_bias(num_classes + 1)

    def heads(self, queries: Tensor) -> tuple[Tensor, Tensor]:
        """queries (B, K, N, D) -> video class logits (B, N, C+1), kernels (B, K, N, E)."""
        if self.head == "mask2former":
            q = self.post_norm(queries)
            clip_weights = self.clip_weight_head(q).softmax(dim=1)  # (B, K, N, 1)
            logits = self.class_head((q * clip_weights).sum(dim=1))  # (B, N, C+1)
            return logits, self.mask_head(q)  # (B, K, N, E)
        b, k, n, d = queries.shape
        q = queries.reshape(b * k, n, d).transpose(1, 2)  # (B K) D N
        class_emb = self.class_proj(q).view(b, k, d, n)
        clip_weights = self.clip_weight_head(class_emb.flatten(0, 1)).view(b, k, 1, n)
        class_emb = (class_emb * clip_weights.softmax(dim=1)).sum(dim=1)  # (B, D, N)
        logits = self.class_head(class_emb).transpose(1, 2)  # (B, N, C+1)
        logits = logits + logits.new_tensor([0.0] * (logits.shape[-1] - 1) + [self.void_bias])
        kernels = self.mask_head(self.mask_proj(q))  # (B K) E N
        return logits, kernels.view(b, k, -1, n).transpose(2, 3)

    def forward(self, queries: Tensor, return_aux: bool = False) -> RefineOutput:
        """queries: (B, K, N, D), aligned across clips."""
        aux = [] if return_aux else None
        for i, layer in enumerate(self.layers):
            queries = layer(queries)
            if aux is not None and i < len(self.layers) - 1:
                aux.append(self.heads(queries))
        logits, kernels = self.heads(queries)
        return RefineOutput(queries, logits, kernels, aux)

    def decode_masks(self, kernels: Tensor, pixel_features: Tensor) -> Tensor:
        """kernels (B, N, E) of one clip, pixel_features (B, E, T, h, w) -> (B, N, T, h, w)."""
        masks = torch.einsum("bethw,bne->bnthw", pixel_features, kernels)
        return masks if self.mask_norm is None else self.mask_norm(masks)
