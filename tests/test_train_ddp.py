"""Two CPU processes with gloo (as under torchrun): DDP keeps the ranks' parameters identical."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from axialvs_cli.data.synth import SynthConfig, generate
from axialvs_cli.training.config import build_config
from axialvs_cli.training.loop import train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, data: str, out: str, result_dir: str) -> None:
    """One rank: the environment torchrun would set, then the library's training entry point."""
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    cfg = build_config(
        data=Path(data), out=Path(out), stage=1, fmt="vipseg", preset="tiny", init=None,
        overrides=dict(crop="65x97", batch_size=2, steps=2, workers=0, progress=False, log_every=1, device="cpu", ckpt_every=100, precise_bn=2),
    )  # fmt: skip
    result = train(cfg)
    params = torch.cat([p.detach().flatten() for p in result.model.parameters()])
    torch.save(
        {"params": params, "losses": [h["loss"] for h in result.history]},
        Path(result_dir) / f"rank{rank}.pt",
    )


def test_two_gloo_processes_stay_in_sync(tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate(data, SynthConfig(videos=2, frames=4, size=(72, 112), seed=0))
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = [
        ctx.Process(
            target=_worker, args=(r, 2, port, str(data), str(tmp_path / "run"), str(tmp_path))
        )
        for r in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    for p in procs:
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert torch.equal(r0["params"], r1["params"])  # after two optimizer steps
    assert r0["losses"] == r1["losses"] and all(
        math.isfinite(v) for v in r0["losses"]
    )  # averaged over ranks
    assert (tmp_path / "run" / "model_final.pt").is_file()


def test_sync_batchnorm_conversion_keeps_the_mask_norms() -> None:
    from torch import nn

    from axialvs_cli.training.distributed import convert_sync_batchnorm
    from models.build import build_axialvs
    from models.kmax_decoder import MaskNorm

    model = build_axialvs("tiny")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    convert_sync_batchnorm(model)
    kinds = {type(m) for m in model.modules()}
    assert nn.SyncBatchNorm in kinds and MaskNorm in kinds  # MaskNorm has its own forward
    assert not {nn.BatchNorm1d, nn.BatchNorm2d} & kinds
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(before[k], after[k]) for k in before)
