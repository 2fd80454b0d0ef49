"""Distributed training with torchrun: environment detection, process group, samplers, DDP.

``torchrun --nproc-per-node N -m axialvs_cli train ...`` sets RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT; `init` reads them and joins the group (nccl on GPUs, gloo on
CPUs). Without them training runs in one process. Only rank 0 writes files and prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from ..errors import InputError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """ "auto" -> this process's GPU when CUDA is there, else the CPU; "cpu"; "cuda"."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                "--device cuda was asked for but no CUDA GPU is available; use --device cpu"
            )
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name == "cpu":
        return torch.device("cpu")
    raise InputError(f"--device {name!r} is not known; use auto, cpu or cuda")


def init(device: str = "auto", timeout_s: int = 4 * 3600) -> DistInfo:
    """Join the torchrun process group when launched by torchrun; else a single process.

    The generous timeout covers validation, which runs on rank 0 while the others wait.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(
            backend, rank=rank, world_size=world, timeout=timedelta(seconds=timeout_s)
        )
    return DistInfo(rank, world, local, dev)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def sampler(
    dataset: Dataset, info: DistInfo, seed: int, shuffle: bool = True
) -> DistributedSampler:
    """Each rank gets its own share of the items of every epoch (call `set_epoch`)."""
    return DistributedSampler(
        dataset,
        num_replicas=info.world_size,
        rank=info.rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=True,
    )


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Plain BatchNorm1d/2d/3d -> SyncBatchNorm (GPU only). Subclasses with their own `forward`
    (such as the single-channel norm of mask logits) keep per-GPU statistics."""
    plain = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    for name, child in module.named_children():
        if type(child) in plain:
            sync = nn.SyncBatchNorm(
                child.num_features,
                child.eps,
                child.momentum,
                child.affine,
                child.track_running_stats,
            )
            if child.affine:
                with torch.no_grad():
                    sync.weight.copy_(child.weight)
                    sync.bias.copy_(child.bias)
            sync.running_mean, sync.running_var = child.running_mean, child.running_var
            sync.num_batches_tracked = child.num_batches_tracked
            sync.train(child.training)
            setattr(module, name, sync)
        else:
            convert_sync_batchnorm(child)
    return module


def wrap(module: nn.Module, info: DistInfo, find_unused: bool = False) -> nn.Module:
    """DistributedDataParallel around `module` when distributed; the module itself otherwise."""
    if not info.distributed:
        return module
    ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        module, device_ids=ids, find_unused_parameters=find_unused
    )


def mean_across(values: dict[str, float], info: DistInfo) -> dict[str, float]:
    """Average logged numbers over the ranks (all ranks must call it)."""
    if not info.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return {k: float(v) / info.world_size for k, v in zip(keys, t.tolist(), strict=True)}
