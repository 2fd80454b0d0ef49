"""Runs over many videos: a resumable output folder, and the processes of a torchrun launch.

While a run works, its output lives in ``.OUT.partial`` beside ``OUT``::

    run.json                  what the run is: inputs, checkpoint SHA-256, options that change results
    owner                     host and pid of the process that prepared the folder
    pan_pred/<video>/, overlay/<video>.mp4   the outputs of committed videos
    .done/<i>.json            marker of committed video i: its summary and instance tracks
    .done/<i>.pred.json       its pred.json (one video)
    .work/<i>/                video i in progress

A video counts as done only once its marker exists. The marker is written last, atomically,
after the video's files are in place and flushed to disk, so a crash at any moment leaves
either a done video or leftovers that a resumed run removes and redoes. When every video is
done one process merges ``pred.json``, ``results.json`` and ``summary.json`` in input order and
renames the folder to ``OUT``.

`Ranks` is the group of processes started by ``torchrun`` (one process without it): rank 0
prepares and merges the folder, every rank segments its `shares` of the videos.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from ..errors import InputError, OutputError, OutputExistsError
from ..formats._io import atomic_write_json, pid_alive

T = TypeVar("T")

PRED_HEAD = b'{"annotations":['
PRED_TAIL = b"]}"


# -- the processes ------------------------------------------------------------------------------
@dataclass
class Ranks:
    """This process's place in a torchrun launch (RANK, WORLD_SIZE, LOCAL_RANK,
    LOCAL_WORLD_SIZE); one process without torchrun. Collectives go over gloo (small Python
    objects only), whatever device the network runs on."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    _group: bool = False

    @classmethod
    def from_env(cls, timeout: timedelta = timedelta(days=7)) -> Ranks:
        """Join the process group when launched by torchrun. The timeout is long: a rank that
        finishes its share early waits at the end for the slowest one."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        ranks = cls(
            int(os.environ.get("RANK", "0")),
            world,
            int(os.environ.get("LOCAL_RANK", "0")),
            int(os.environ.get("LOCAL_WORLD_SIZE", str(world))),
        )
        if not dist.is_initialized():
            dist.init_process_group("gloo", timeout=timeout)
            ranks._group = True
        return ranks

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        if self._group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._group = False

    def gather(self, value: T) -> list[T]:
        """Every rank's `value`, in rank order, on every rank."""
        if self.world == 1:
            return [value]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def on_main(self, fn: Callable[[], T]) -> T:
        """Run `fn` on rank 0 and hand its value, or the error it raised, to every rank."""
        if self.world == 1:
            return fn()
        import torch.distributed as dist

        box: list[Any] = [None]
        if self.main:
            try:
                box[0] = (fn(), None)
            except Exception as err:  # raised on every rank below
                box[0] = (None, err)
        dist.broadcast_object_list(box, src=0)
        value, err = box[0]
        if err is not None:
            raise err
        return value


def shares(frames: Sequence[int | None], world: int) -> list[list[int]]:
    """Deterministic shares of the videos for `world` processes, balanced by frame count
    (longest first, each to the least loaded process; ties by input order and rank). A video
    of unknown length counts as the mean of the known ones. Each share is in input order."""
    known = [f for f in frames if f]
    fill = max(1, round(sum(known) / len(known))) if known else 1
    cost = [max(1, f) if f else fill for f in frames]
    load = [0] * world
    out: list[list[int]] = [[] for _ in range(world)]
    for i in sorted(range(len(cost)), key=lambda i: (-cost[i], i)):
        r = min(range(world), key=lambda r: (load[r], r))
        out[r].append(i)
        load[r] += cost[i]
    return [sorted(s) for s in out]


# -- the folder ---------------------------------------------------------------------------------
def partial_path(output: Path) -> Path:
    return output.parent / f".{output.name}.partial"


def _marker(part: Path, index: int) -> Path:
    return part / ".done" / f"{index}.json"


def done_videos(part: Path) -> set[int]:
    """Indices of the committed videos of a partial folder."""
    done = set()
    for path in (part / ".done").glob("*.json"):
        stem = path.name[: -len(".json")]
        if stem.isdigit():
            done.add(int(stem))
    return done


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def describe_change(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """What differs between two run identities, in a few words."""
    if not isinstance(old, dict):
        return "an unreadable run.json"
    if old.get("checkpoint_sha256") != new.get("checkpoint_sha256"):
        return "another checkpoint"
    if old.get("inputs") != new.get("inputs"):
        return "other inputs"
    a, b = old.get("options") or {}, new.get("options") or {}
    changed = [
        f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    ]
    return "other options (" + ", ".join(changed) + ")" if changed else "another format"


def prepare(
    output: Path, identity: dict[str, Any], count: int, resume: bool, overwrite: bool
) -> tuple[Path, set[int]]:
    """The partial folder of a run and the videos already done in it.

    A partial folder left by an earlier run is continued with `resume` when its run.json
    matches `identity`; with `overwrite` it is started again; without either it is an error
    when it holds done videos (nothing is thrown away unasked) and removed otherwise.
    """
    part = partial_path(output)
    try:
        if part.exists():
            owner = _read_json(part / "owner") or {}
            pid = owner.get("pid")
            if (
                owner.get("host") == socket.gethostname()
                and isinstance(pid, int)
                and pid != os.getpid()
                and pid_alive(pid)
            ):
                raise OutputError(
                    f"{output} is being written by another axialvs run (pid {pid}); wait for "
                    "it to finish or choose another --output"
                )
            done = done_videos(part)
            old = _read_json(part / "run.json")
            if resume and old == identity:
                shutil.rmtree(part / ".work", ignore_errors=True)
                _claim(part)
                return part, done
            if resume and not overwrite:
                raise InputError(
                    f"--resume: the interrupted run in {part} used {describe_change(old, identity)}; "
                    "run the same command to resume it, or pass --overwrite to start again"
                )
            if done and not overwrite:
                raise OutputExistsError(
                    f"{output}: an interrupted run left {len(done)} of {count} videos done in "
                    f"{part}; pass --resume to continue it or --overwrite to start again"
                )
            shutil.rmtree(part)
        part.mkdir(parents=True)
        atomic_write_json(part / "run.json", identity)
        _claim(part)
    except OSError as err:
        from ..errors import os_error_line

        raise OutputError(os_error_line(err, output)) from None
    return part, set()


def _claim(part: Path) -> None:
    atomic_write_json(part / "owner", {"host": socket.gethostname(), "pid": os.getpid()})


def stage(part: Path, index: int, name: str) -> Path:
    """An empty folder for video `index` in progress; leftovers of an earlier try removed."""
    for path in (part / "pan_pred" / name, part / ".work" / str(index)):
        shutil.rmtree(path, ignore_errors=True)
    for path in (part / "overlay" / f"{name}.mp4", part / ".done" / f"{index}.pred.json"):
        path.unlink(missing_ok=True)
    where = part / ".work" / str(index)
    where.mkdir(parents=True)
    return where


def commit(part: Path, where: Path, index: int, record: dict[str, Any]) -> None:
    """Move a finished video's files from its stage into the folder, flush them to disk, then
    write its marker (the moment it counts as done)."""
    for sub in ("pan_pred", "overlay"):
        src = where / sub
        if src.is_dir():
            (part / sub).mkdir(exist_ok=True)
            for item in src.iterdir():
                os.replace(item, part / sub / item.name)
    (part / ".done").mkdir(exist_ok=True)
    pred = where / "pred.json"
    if pred.exists():
        os.replace(pred, part / ".done" / f"{index}.pred.json")
    if hasattr(os, "sync"):
        os.sync()  # the files before the marker (a power loss must not keep a marker alone)
    atomic_write_json(_marker(part, index), record)
    shutil.rmtree(where, ignore_errors=True)


def records(part: Path, count: int) -> list[dict[str, Any]]:
    """The markers of all `count` videos, in input order (OutputError if one is missing)."""
    out = []
    for i in range(count):
        record = _read_json(_marker(part, i))
        if not isinstance(record, dict):
            raise OutputError(
                f"{part}: video {i + 1} has no complete output; run again with --resume"
            )
        out.append(record)
    return out


def merge_predictions(part: Path, count: int) -> None:
    """pred.json of all videos, streamed from their one-video files: the bytes one writer
    would have written for all of them."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".pred.json.", suffix=".tmp", dir=part)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(PRED_HEAD)
            first = True
            for i in range(count):
                path = part / ".done" / f"{i}.pred.json"
                if not path.exists():
                    continue
                size = path.stat().st_size
                with open(path, "rb") as f:
                    head = f.read(len(PRED_HEAD))
                    f.seek(size - len(PRED_TAIL))
                    tail = f.read()
                    if head != PRED_HEAD or tail != PRED_TAIL:
                        raise OutputError(
                            f"{path} is not a pred.json written by axialvs; run again with --resume"
                        )
                    inner = size - len(PRED_HEAD) - len(PRED_TAIL)
                    if inner <= 0:
                        continue
                    if not first:
                        out.write(b",")
                    first = False
                    f.seek(len(PRED_HEAD))
                    while inner > 0:
                        block = f.read(min(inner, 1 << 20))
                        out.write(block)
                        inner -= len(block)
            out.write(PRED_TAIL)
        os.replace(tmp, part / "pred.json")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def tidy(part: Path) -> None:
    """Remove the bookkeeping of a finished folder."""
    for sub in (".done", ".work"):
        shutil.rmtree(part / sub, ignore_errors=True)
    for name in ("run.json", "owner"):
        (part / name).unlink(missing_ok=True)


def abandon(part: Path) -> None:
    """After a failure: keep the done videos for --resume, or remove the folder if none."""
    shutil.rmtree(part / ".work", ignore_errors=True)
    if not done_videos(part):
        shutil.rmtree(part, ignore_errors=True)


def chain(lists: Iterable[list[T]]) -> list[T]:
    return [x for xs in lists for x in xs]
