"""kMaX transformer decoder: object queries updated by k-means cross-attention over a clip.

The pixels of all T frames of a clip form one set, so a query clusters pixels of every frame at
once and predicts a tube: masks over (T, H, W). Each layer (i) assigns every pixel to its most
similar query (hard argmax; the k-means step), (ii) adds the sum of the assigned pixels' values
to each query, (iii) runs self-attention among queries and an FFN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers.common import BN_EPS, BN_MOMENTUM, ConvNorm, DropPath, trunc_normal_


def void_prior_bias(num_logits: int, void_prob: float = 0.9) -> float:
    """Bias added to the void logit so that a fresh model predicts void with `void_prob`."""
    return math.log((num_logits - 1) * void_prob / (1.0 - void_prob))


class MaskNorm(nn.BatchNorm3d):
    """Batch norm with a single channel over all mask logits (scale initialised to 0.1)."""

    def __init__(self) -> None:
        super().__init__(1, eps=BN_EPS, momentum=BN_MOMENTUM)
        nn.init.constant_(self.weight, 0.1)

    def forward(self, logits: Tensor) -> Tensor:
        """logits: (B, N, T, H, W) -> same shape."""
        b, n, t, h, w = logits.shape
        return super().forward(logits.reshape(b, 1, n, t * h, w)).view(b, n, t, h, w)


@dataclass
class Prediction:
    class_logits: Tensor  # (B, N, C+1)
    mask_logits: Tensor  # (B, N, T, H, W)
    mask_kernels: Tensor  # (B, N, E)
    pixel_features: Tensor  # (B, E, T, H, W), unit length along E


class KMaXPredictor(nn.Module):
    """Class logits of queries and mask logits = query kernels . normalised pixel embeddings."""

    def __init__(
        self, pixel_channels: int, dim: int, mask_dim: int, num_logits: int, stacked: bool = False
    ) -> None:
        super().__init__()
        self.stacked = stacked
        self.pixel_dw = ConvNorm(
            pixel_channels,
            pixel_channels,
            5,
            padding=2,
            groups=pixel_channels,
            act=True,
            init="xavier",
        )
        self.pixel_conv = ConvNorm(pixel_channels, dim, act=True)
        self.pixel_out = ConvNorm(dim, mask_dim, bias=True)
        trunc_normal_(self.pixel_out.conv.weight, std=0.01)
        self.mask_head = ConvNorm(dim, mask_dim, dims=1)
        self.class_head = nn.Conv1d(dim, num_logits, 1)
        trunc_normal_(self.class_head.weight, std=0.01)
        nn.init.zeros_(self.class_head.bias)
        self.mask_norm = MaskNorm()
        self.void_bias = void_prior_bias(num_logits)

    def pixel_embeddings(self, pixel: Tensor, frames: int) -> Tensor:
        """pixel: (B*T, C, H, W) -> (B, E, T, H, W) unit-length embeddings.

        The 5x5 depthwise conv runs per frame, or with `stacked` over the T frames of a clip
        stacked into one (T*H, W) image, as the official Video-kMaX code does: there the rows
        within 2 of a seam also see the neighbouring frame's border rows.
        """
        if self.stacked and frames > 1:
            bt, c, h, w = pixel.shape
            tall = pixel.view(bt // frames, frames, c, h, w).transpose(1, 2)
            tall = self.pixel_dw(tall.reshape(bt // frames, c, frames * h, w))
            x = tall.view(bt // frames, c, frames, h, w).transpose(1, 2).reshape(bt, c, h, w)
        else:
            x = self.pixel_dw(pixel)
        x = self.pixel_out(self.pixel_conv(x))
        x = F.normalize(x, p=2, dim=1)
        bt, e, h, w = x.shape
        return x.view(bt // frames, frames, e, h, w).transpose(1, 2)

    def forward(
        self, mask_emb: Tensor, class_emb: Tensor, pixel: Tensor, frames: int
    ) -> Prediction:
        """mask_emb, class_emb: (B, D, N); pixel: (B*T, C, H, W)."""
        pixel_features = self.pixel_embeddings(pixel, frames)  # (B, E, T, H, W)
        class_logits = self.class_head(class_emb).transpose(1, 2)  # (B, N, C+1)
        class_logits = class_logits + class_logits.new_tensor(
            [0.0] * (class_logits.shape[-1] - 1) + [self.void_bias]
        )
        kernels = self.mask_head(mask_emb)  # (B, E, N)
        mask_logits = self.mask_norm(torch.einsum("bethw,ben->bnthw", pixel_features, kernels))
        return Prediction(class_logits, mask_logits, kernels.transpose(1, 2), pixel_features)


class QueryAttention(nn.Module):
    """Self-attention among queries with batch-normalised similarities (kMaX/MaX-DeepLab)."""

    def __init__(self, value_depth: int, heads: int) -> None:
        super().__init__()
        self.bn_similarity = nn.BatchNorm2d(heads, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.bn_output = nn.BatchNorm1d(value_depth, eps=BN_EPS, momentum=BN_MOMENTUM)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """q, k: (B, M, dk, N); v: (B, M, dv, N) -> (B, M*dv, N)."""
        sim = self.bn_similarity(torch.einsum("bmdl,bmdj->bmlj", q, k))
        weights = sim.float().softmax(dim=-1).to(v.dtype)
        out = torch.einsum("bmlj,bmdj->bmdl", weights, v).flatten(1, 2)
        return F.gelu(self.bn_output(out))


class KMaXLayer(nn.Module):
    """One k-means cross-attention layer (k-means update, query self-attention, FFN)."""

    def __init__(
        self,
        pixel_channels: int,
        dim: int,
        heads: int,
        ffn_dim: int,
        mask_dim: int,
        num_logits: int,
        drop_path: float = 0.0,
        stacked: bool = False,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.key_depth, self.value_depth = dim // 2, dim
        std = dim**-0.5
        self.pixel_conv1 = ConvNorm(pixel_channels, dim, act=True)
        self.query_conv1 = ConvNorm(dim, dim, act=True, dims=1)
        self.pixel_value = ConvNorm(dim, self.value_depth)
        trunc_normal_(self.pixel_value.conv.weight, std=std)
        self.query_qkv = ConvNorm(dim, 2 * self.key_depth + self.value_depth, dims=1)
        trunc_normal_(self.query_qkv.conv.weight, std=std)
        self.self_attention = QueryAttention(self.value_depth, heads)
        self.query_conv3 = ConvNorm(self.value_depth, dim, dims=1, norm_init=0.0)
        self.ffn1 = ConvNorm(dim, ffn_dim, act=True, dims=1)
        self.ffn2 = ConvNorm(ffn_dim, dim, dims=1, norm_init=0.0)
        self.predictor = KMaXPredictor(dim, dim, mask_dim, num_logits, stacked)
        self.kmeans_norm = nn.BatchNorm1d(self.value_depth, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.kmeans_conv3 = ConvNorm(self.value_depth, dim, dims=1, norm_init=0.0)
        self.drop_kmeans = DropPath(drop_path)
        self.drop_attn = DropPath(drop_path)
        self.drop_ffn = DropPath(drop_path)

    def forward(self, pixel: Tensor, queries: Tensor, frames: int) -> tuple[Tensor, Prediction]:
        """pixel: (B*T, C, H, W); queries: (B, D, N) -> updated queries and this layer's
        prediction (used for the assignment and, in training, for deep supervision)."""
        pixel_space = self.pixel_conv1(F.gelu(pixel))  # (BT, D, H, W)
        query_space = self.query_conv1(queries)  # (B, D, N)
        bt, _, h, w = pixel_space.shape
        b = bt // frames
        value = self.pixel_value(pixel_space).view(b, frames, self.value_depth, h * w)
        value = value.transpose(1, 2).reshape(b, self.value_depth, frames * h * w)  # (B, V, THW)

        pred = self.predictor(query_space, query_space, pixel_space, frames)
        with torch.no_grad():  # k-means assignment: each pixel to its best query
            assign = pred.mask_logits.flatten(2).argmax(dim=1)  # (B, THW)
        n = queries.shape[-1]
        update = value.new_zeros(b, self.value_depth, n).scatter_add_(
            2, assign[:, None, :].expand(-1, self.value_depth, -1), value
        )  # (B, V, N): sum of the values of the pixels assigned to each query
        update = self.kmeans_conv3(self.kmeans_norm(update))
        queries = queries + self.drop_kmeans(update)

        qkv = self.query_qkv(query_space)
        q, k, v = qkv.split([self.key_depth, self.key_depth, self.value_depth], dim=1)
        m = self.heads
        attn = self.self_attention(
            q.reshape(b, m, -1, n), k.reshape(b, m, -1, n), v.reshape(b, m, -1, n)
        )
        queries = F.gelu(queries + self.drop_attn(self.query_conv3(attn)))
        queries = F.gelu(queries + self.drop_ffn(self.ffn2(self.ffn1(queries))))
        return queries, pred


@dataclass
class DecoderOutput:
    queries: Tensor  # (B, N, D) final object queries (cluster centres)
    final: Prediction  # from the stride-4 pixel features
    aux: list[Prediction] | None  # one per k-means layer (deep supervision), if asked


class KMaXTransformerDecoder(nn.Module):
    """Stacks of k-means layers at strides 32, 16, 8, then the final prediction at stride 4.

    Args:
        pixel_channels: channels of the pixel-decoder outputs at strides 32, 16, 8, 4.
        layers: k-means layers at strides 32, 16, 8.
        num_queries, dim, heads, ffn_dim, mask_dim: query count and widths.
        num_classes: classes without void.
        drop_path: stochastic depth of the query updates.
        stacked_pixel_head: run the pixel heads' 5x5 depthwise convs over the frames of a
            clip stacked into one tall image (the official code) instead of per frame.
    """

    def __init__(
        self,
        pixel_channels: tuple[int, ...],
        *,
        layers: tuple[int, ...],
        num_queries: int,
        dim: int,
        heads: int,
        ffn_dim: int,
        mask_dim: int,
        num_classes: int,
        drop_path: float = 0.0,
        stacked_pixel_head: bool = False,
    ) -> None:
        super().__init__()
        num_logits = num_classes + 1
        self.layer_stride_index = [i for i, n in enumerate(layers) for _ in range(n)]
        self.layers = nn.ModuleList(
            KMaXLayer(
                pixel_channels[i],
                dim,
                heads,
                ffn_dim,
                mask_dim,
                num_logits,
                drop_path,
                stacked=stacked_pixel_head,
            )
            for i in self.layer_stride_index
        )
        self.cluster_centers = nn.Parameter(torch.empty(dim, num_queries))  # (D, N)
        trunc_normal_(self.cluster_centers, std=1.0)
        self.class_proj = ConvNorm(dim, dim, act=True, dims=1)
        self.mask_proj = ConvNorm(dim, dim, act=True, dims=1)
        self.predictor = KMaXPredictor(
            pixel_channels[3], dim, mask_dim, num_logits, stacked_pixel_head
        )

    def forward(
        self, multi_scale: list[Tensor], pixel: Tensor, frames: int, return_aux: bool = False
    ) -> DecoderOutput:
        """multi_scale: strides 32/16/8, each (B*T, C_i, H_i, W_i); pixel: (B*T, C, H/4, W/4)."""
        b = pixel.shape[0] // frames
        queries = self.cluster_centers.unsqueeze(0).expand(b, -1, -1)  # (B, D, N)
        aux = [] if return_aux else None
        for layer, i in zip(self.layers, self.layer_stride_index, strict=True):
            queries, pred = layer(multi_scale[i], queries, frames)
            if aux is not None:
                aux.append(pred)
        final = self.predictor(self.mask_proj(queries), self.class_proj(queries), pixel, frames)
        return DecoderOutput(queries=queries.transpose(1, 2), final=final, aux=aux)
