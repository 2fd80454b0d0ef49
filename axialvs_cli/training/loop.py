"""The trainer: stage 1 (clip segmenter + within-clip tracking) and stage 2 (cross-clip tracking).

`train(cfg)` runs in every process of a torchrun launch (or alone): it builds the data, the model
(stage 2 from a stage-1 checkpoint, segmenter frozen), AdamW with the warm-up + poly schedule,
then steps: forward (AMP on CUDA only), matching + losses, backward, optional gradient
clipping, update. Rank 0 shows a progress bar, appends metrics to ``log.jsonl``, writes
checkpoints every `ckpt_every` steps and at the end, and validates every `val_every` steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from models.axialvs import AxialVS
from models.weights import read_checkpoint

from ..data.targets import collate
from ..errors import AxialVSError, InputError, OutputExistsError
from . import distributed as dist_lib
from .checkpoint import TrainState, append_log, load_state, restore_rng, save_run, write_json
from .config import TrainConfig
from .datasets import build_dataset
from .losses import Criterion
from .nets import ClipStage, VideoStage, recalibrate_batchnorm
from .optim import build_optimizer, build_scheduler, warmup_poly
from .setup import as_float, copy_file, plain, prepare_model, progress_bar


class TrainingError(AxialVSError):
    """Training cannot go on (diverged loss, inconsistent inputs)."""


@dataclass
class TrainResult:
    step: int
    history: list[dict[str, Any]] = field(default_factory=list)  # logged records of this process
    model: AxialVS | None = None
    checkpoint: str | None = None


def train(cfg: TrainConfig) -> TrainResult:
    """Run one training stage as configured; see the module docstring."""
    started = not (torch.distributed.is_available() and torch.distributed.is_initialized())
    info = dist_lib.init(cfg.device)
    try:
        return _Trainer(cfg, info).run()
    finally:
        if started:
            dist_lib.shutdown()


class _Trainer:
    def __init__(self, cfg: TrainConfig, info: dist_lib.DistInfo) -> None:
        if cfg.stage not in (1, 2):
            raise InputError(
                f"--stage {cfg.stage} is not valid; use 1 (clip segmenter) or 2 (cross-clip)"
            )
        if cfg.batch_size % info.world_size:
            raise InputError(
                f"--batch-size {cfg.batch_size} is not divisible by the {info.world_size} processes"
            )
        if not cfg.resume and (cfg.out / "last.pt").exists() and not cfg.overwrite:
            raise OutputExistsError(
                f"{cfg.out} holds a run already; pass --resume to continue it, --overwrite, "
                "or another --out"
            )
        self.cfg, self.info = cfg, info
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        self.dataset = build_dataset(cfg, train=True)
        self.model, self.model_cfg, self.meta = prepare_model(cfg, self.dataset.classes, info)
        torch.manual_seed(cfg.seed * 1000 + 1 + info.rank)  # each rank its own data draws
        self.criterion = Criterion(cfg.loss, self.model_cfg.num_classes)
        self.state = TrainState()
        self.amp_dtype = None
        if cfg.amp and info.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.optimizer = build_optimizer(self.model, cfg.optim, cfg.stage)
        self.scheduler = build_scheduler(self.optimizer, cfg.optim)
        if cfg.resume:
            self._resume()
        net = (
            ClipStage(self.model)
            if cfg.stage == 1
            else VideoStage(self.model, self.model_cfg.clip_length, cfg.freeze_bn)
        )
        net.train()  # stage 2: the frozen segmenter stays in eval mode
        lossy = cfg.loss
        find_unused = cfg.stage == 1 and (
            not lossy.deep_supervision
            or not lossy.class_weight
            or not (lossy.mask_weight or lossy.dice_weight)
        )
        self.net = dist_lib.wrap(net, info, find_unused)
        self.history: list[dict[str, Any]] = []

    # -- setup -------------------------------------------------------------------------------

    def _resume(self) -> None:
        payload = load_state(self.cfg.out)
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        if payload.get("scaler"):
            self.scaler.load_state_dict(payload["scaler"])
        self.state = TrainState(**payload["state"])
        self.state.epoch += 1  # the data order restarts at the next epoch
        restore_rng(payload)
        if read_checkpoint(self.cfg.out / "last.pt")["meta"].get("step") != self.state.step:
            raise TrainingError(
                f"{self.cfg.out}: last.pt and last_state.pt are from different steps; the run folder is damaged"
            )

    def _batches(self) -> Iterator[Any]:
        cfg, info = self.cfg, self.info
        sampler = dist_lib.sampler(self.dataset, info, seed=cfg.seed)
        per_rank = cfg.batch_size // info.world_size
        if len(sampler) < per_rank:
            raise InputError(
                f"{len(self.dataset)} training items are too few for a batch of {per_rank} per process"
            )
        loader = DataLoader(
            self.dataset, batch_size=per_rank, sampler=sampler, num_workers=cfg.workers, collate_fn=collate,
            pin_memory=info.device.type == "cuda", drop_last=True, persistent_workers=cfg.workers > 0,
        )  # fmt: skip
        while True:
            sampler.set_epoch(self.state.epoch)
            yield from loader
            self.state.epoch += 1

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> TrainResult:
        cfg, info = self.cfg, self.info
        if info.is_main:
            self._prepare_out()
        dist_lib.barrier(info)
        bar = progress_bar(cfg, info, self.state.step)
        batches = self._batches()
        window: dict[str, float] = {}
        count, t0 = 0, time.perf_counter()
        while self.state.step < cfg.optim.steps:
            losses = self._step(next(batches))
            for k, v in losses.items():
                window[k] = window.get(k, 0.0) + v
            count += 1
            self.state.step += 1
            step = self.state.step
            if step % cfg.log_every == 0 or step == cfg.optim.steps:
                elapsed = time.perf_counter() - t0
                self.state.elapsed_s += elapsed
                record = {k: v / count for k, v in dist_lib.mean_across(window, info).items()}
                lr = cfg.optim.lr * warmup_poly(step, cfg.optim)  # base rate of the next step
                record = {"step": step, "lr": lr, **record, "s_per_step": elapsed / count}
                self.history.append(record)
                if info.is_main:
                    append_log(cfg.out / "log.jsonl", record)
                    if bar is not None:
                        bar.set_postfix(
                            loss=f"{record['loss']:.3f}", s_step=f"{record['s_per_step']:.2f}"
                        )
                window, count, t0 = {}, 0, time.perf_counter()
            if bar is not None:
                bar.update(1)
            last = step == cfg.optim.steps
            save = step % cfg.ckpt_every == 0 or last
            validate = cfg.val_every and cfg.data.val and (step % cfg.val_every == 0 or last)
            if (save or validate) and cfg.precise_bn:
                self._recalibrate(batches)
            if save:
                self._checkpoint(snapshot=step % cfg.ckpt_every == 0)
            if validate:
                self._validate()
        if bar is not None:
            bar.close()
        final = None
        if info.is_main:  # the last step was saved as last.pt
            final = cfg.out / "model_final.pt"
            copy_file(cfg.out / "last.pt", final)
        dist_lib.barrier(info)
        return TrainResult(self.state.step, self.history, self.model, str(final) if final else None)

    def _step(self, batch: Any) -> dict[str, float]:
        batch = batch.to(self.info.device)
        with self._autocast():
            out = self.net(batch.frames)
        losses = self.criterion(
            as_float(out.final),
            [as_float(a) for a in out.aux],
            batch.targets,
            None if out.semantic_logits is None else out.semantic_logits.float(),
        )
        loss = losses["loss"]
        if not torch.isfinite(loss):
            raise TrainingError(
                f"the loss became {loss.item()} at step {self.state.step + 1}; lower --lr or set --clip-grad"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.optim.clip_grad > 0:
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.cfg.optim.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return {k: float(v.detach()) for k, v in losses.items()}

    def _prepare_out(self) -> None:
        cfg = self.cfg
        cfg.out.mkdir(parents=True, exist_ok=True)
        if not cfg.resume:
            (cfg.out / "log.jsonl").unlink(missing_ok=True)
        write_json(
            cfg.out / "config.json",
            plain(dataclasses.asdict(cfg))
            | {"model": self.model_cfg.name, "world_size": self.info.world_size},
        )

    def _recalibrate(self, batches: Iterator[Any]) -> None:
        """Re-estimate the batch-norm statistics of the trained part (precise BN)."""
        trained = self.model if self.cfg.stage == 1 else self.model.cross_clip
        net = self.net.module if isinstance(self.net, DistributedDataParallel) else self.net
        frames = (next(batches).frames.to(self.info.device) for _ in range(self.cfg.precise_bn))
        with self._autocast():
            recalibrate_batchnorm(net, trained, frames, self.info)

    def _autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision on CUDA when asked for; never on the CPU."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.amp_dtype)

    def _checkpoint(self, snapshot: bool) -> None:
        if self.info.is_main:
            save_run(
                self.cfg.out,
                self.model,
                self.model_cfg,
                self.meta,
                self.optimizer,
                self.scheduler,
                self.scaler,
                self.state,
                snapshot,
            )
        dist_lib.barrier(self.info)

    def _validate(self) -> None:
        if self.info.is_main:
            from .validate import validate

            metrics = validate(
                self.model,
                self.model_cfg,
                self.cfg,
                self.dataset.classes,
                self.info.device,
                self.state.step,
            )
            record = {"step": self.state.step, "val": metrics}
            self.history.append(record)
            append_log(self.cfg.out / "log.jsonl", record)
            self.model.train()
            if self.cfg.stage == 2:
                self.net.train()
        dist_lib.barrier(self.info)
