"""Hungarian alignment of clip object queries across consecutive clips (paper section 3.2).

Like MinVIS, but per clip: the N queries of clip k are permuted so that query i is the one
most similar (cosine similarity of mask embeddings) to query i of clip k - 1.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def match_queries(previous: Tensor, current: Tensor) -> Tensor:
    """Permutation `perm` (N,) such that `current[perm]` lines up with `previous`.

    previous, current: (N, E) embeddings of two clips; cost = 1 - cosine similarity.
    """
    prev = torch.nn.functional.normalize(previous.detach().float(), dim=-1)
    cur = torch.nn.functional.normalize(current.detach().float(), dim=-1)
    cost = (1.0 - prev @ cur.T).cpu().numpy()  # (N_prev, N_cur)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(prev.shape[0], dtype=np.int64)
    perm[rows] = cols
    return torch.from_numpy(perm).to(current.device)


def align_clips(embeddings: Tensor) -> Tensor:
    """Chain the matching through a video: embeddings (K, N, E) -> permutations (K, N).

    Clip 0 keeps its order; clip k is matched to the already aligned clip k - 1.
    """
    perms = [torch.arange(embeddings.shape[1], device=embeddings.device)]
    for k in range(1, embeddings.shape[0]):
        prev = embeddings[k - 1][perms[-1]]
        perms.append(match_queries(prev, embeddings[k]))
    return torch.stack(perms)
