"""Masked-attention transformer decoder of Mask2Former, over the tubes of a clip (Tube-Link).

N learned queries read the encoded features of all T frames of a clip at once: layer i attends
to the level i mod 3 (strides 32, 16, 8), flattened over (T, H, W) with a 3-D sine position
embedding plus a level embedding. The cross-attention of each query is restricted to the
positions its previous mask prediction covers (mask logit > 0), except where that mask is
empty. Every layer: masked cross-attention, self-attention, FFN, each with residual and
LayerNorm after it. The heads run on the post-normed queries before the first layer and after
each one: class logits (linear, C + 1 with void last) and a tube mask = MLP(query) . mask
features of every frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..kmax_decoder import DecoderOutput, Prediction
from ..layers.position import PositionEmbeddingSine3D
from .blocks import mask_mlp


class MaskedAttentionLayer(nn.Module):
    """Masked cross-attention -> LN -> self-attention -> LN -> FFN (ReLU) -> LN."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, queries: Tensor, query_pos: Tensor, memory: Tensor, memory_pos: Tensor, mask: Tensor
    ) -> Tensor:
        """queries, query_pos: (B, N, D); memory, memory_pos: (B, S, D);
        mask: (B * heads, N, S) bool, True where a query may not look. Returns (B, N, D)."""
        q = queries + query_pos
        out = self.cross_attn(q, memory + memory_pos, memory, attn_mask=mask, need_weights=False)
        queries = self.norm1(queries + self.dropout(out[0]))
        q = queries + query_pos
        out = self.self_attn(q, q, queries, need_weights=False)
        queries = self.norm2(queries + self.dropout(out[0]))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(queries))))
        return self.norm3(queries + self.dropout(ffn))


def attention_mask(mask_logits: Tensor, size: tuple[int, int], heads: int) -> Tensor:
    """Where each query may not attend at the next level.

    Args:
        mask_logits: (B, N, T, H, W).
        size: (h, w) of the next level.
        heads: attention heads M.

    Returns:
        (B * M, N, T * h * w) bool, True outside the predicted mask (logit < 0, i.e.
        sigmoid < 0.5); a query whose mask is empty everywhere may look everywhere.
    """
    b, n, t = mask_logits.shape[:3]
    m = F.interpolate(mask_logits.flatten(1, 2), size=size, mode="bilinear", align_corners=False)
    blocked = m.view(b, n, t * size[0] * size[1]) < 0.0  # (B, N, T h w)
    blocked = blocked & ~blocked.all(dim=-1, keepdim=True)
    return blocked.detach().repeat_interleave(heads, dim=0)


class Mask2FormerDecoder(nn.Module):
    """Args:
    pixel_dim: channels of the encoded levels.
    num_queries, dim, heads, ffn_dim, num_layers, dropout: transformer sizes.
    mask_dim: E, channels of the mask features / mask embeddings.
    num_classes: classes without void.
    num_levels: levels cycled over (3: strides 32, 16, 8).
    """

    def __init__(
        self,
        *,
        pixel_dim: int,
        num_queries: int,
        dim: int,
        heads: int,
        ffn_dim: int,
        num_layers: int,
        mask_dim: int,
        num_classes: int,
        num_levels: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.heads = heads
        self.num_levels = num_levels
        self.input_proj = nn.ModuleList(
            nn.Conv2d(pixel_dim, dim, 1) if pixel_dim != dim else nn.Identity()
            for _ in range(num_levels)
        )
        self.level_embed = nn.Embedding(num_levels, dim)
        self.query_feat = nn.Embedding(num_queries, dim)
        self.query_embed = nn.Embedding(num_queries, dim)
        self.pos_3d = PositionEmbeddingSine3D(dim // 2, normalize=True)
        self.layers = nn.ModuleList(
            MaskedAttentionLayer(dim, heads, ffn_dim, dropout) for _ in range(num_layers)
        )
        self.post_norm = nn.LayerNorm(dim)
        self.class_head = nn.Linear(dim, num_classes + 1)
        self.mask_head = mask_mlp(dim, mask_dim)
        for p in self.layers.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)

    def predict(
        self, queries: Tensor, mask_features: Tensor, size: tuple[int, int]
    ) -> tuple[Prediction, Tensor]:
        """queries (B, N, D), mask_features (B, E, T, H, W) -> this step's prediction and the
        attention mask for a level of `size` (see `attention_mask`)."""
        q = self.post_norm(queries)
        kernels = self.mask_head(q)  # (B, N, E)
        masks = torch.einsum("bne,bethw->bnthw", kernels, mask_features)  # (B, N, T, H, W)
        pred = Prediction(self.class_head(q), masks, kernels, mask_features)
        return pred, attention_mask(masks, size, self.heads)

    def forward(
        self, multi_scale: list[Tensor], pixel: Tensor, frames: int, return_aux: bool = False
    ) -> DecoderOutput:
        """Args:
            multi_scale: encoded strides 32, 16, 8, each (B*T, pixel_dim, H_i, W_i).
            pixel: mask features (B*T, E, H/4, W/4).
            frames: T.
            return_aux: also return the predictions before the last layer (the one from the
                initial queries and after each layer but the last; deep supervision).

        Returns:
            `DecoderOutput`: queries (B, N, D) before the post-norm, the final prediction
            (mask logits (B, N, T, H/4, W/4), pixel features = mask features (B, E, T, ...)).
        """
        bt, e, h4, w4 = pixel.shape
        b = bt // frames
        mask_features = pixel.view(b, frames, e, h4, w4).transpose(1, 2)  # (B, E, T, H, W)
        memories, positions, sizes = [], [], []
        for i, x in enumerate(multi_scale[: self.num_levels]):
            x = self.input_proj[i](x)
            _, d, h, w = x.shape
            x = x.view(b, frames, d, h, w)
            pos = self.pos_3d(x)  # (B, T, D, H, W)
            memories.append(x.permute(0, 1, 3, 4, 2).reshape(b, -1, d) + self.level_embed.weight[i])
            positions.append(pos.permute(0, 1, 3, 4, 2).reshape(b, -1, d))  # (B, T H W, D)
            sizes.append((h, w))
        queries = self.query_feat.weight.unsqueeze(0).expand(b, -1, -1)  # (B, N, D)
        query_pos = self.query_embed.weight.unsqueeze(0).expand(b, -1, -1)
        pred, mask = self.predict(queries, mask_features, sizes[0])
        preds = [pred]
        for i, layer in enumerate(self.layers):
            level = i % self.num_levels
            queries = layer(queries, query_pos, memories[level], positions[level], mask)
            pred, mask = self.predict(queries, mask_features, sizes[(i + 1) % self.num_levels])
            preds.append(pred)
        return DecoderOutput(
            queries=queries, final=preds[-1], aux=preds[:-1] if return_aux else None
        )
