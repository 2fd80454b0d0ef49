"""Shared checks on whole networks for the model tests."""

from __future__ import annotations

import torch

from models.axialvs import AxialVS


def assert_gradients_reach_every_parameter(model: AxialVS, clip: torch.Tensor) -> None:
    """Backpropagate a loss on every output of `forward_clip` and `refine` (final and auxiliary
    predictions, semantic logits when the model has them, masks decoded from refined kernels)
    and check that every parameter gets a finite, non-zero gradient."""
    out = model.forward_clip(clip, return_aux=True)
    loss = out.class_logits.square().mean() + out.mask_logits.square().mean()
    if out.semantic_logits is not None:
        loss = loss + out.semantic_logits.square().mean()
    for p in out.aux:
        loss = loss + p.class_logits.square().mean() + p.mask_logits.square().mean()
    queries = torch.stack([out.queries, out.queries.flip(1)], dim=1)  # (B, K=2, N, D)
    ref = model.refine(queries, return_aux=True)
    masks = model.decode_masks(ref.mask_kernels[:, 0], out.pixel_features)
    loss = loss + ref.class_logits.square().mean() + masks.square().mean()
    for logits, kernels in ref.aux:
        loss = loss + logits.square().mean() + kernels.square().mean()
    loss.backward()
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.grad is None]
    zero = [n for n, p in params.items() if p.grad is not None and p.grad.abs().sum() == 0]
    assert not missing, missing
    assert not zero, zero
    assert all(torch.isfinite(p.grad).all() for p in params.values())
