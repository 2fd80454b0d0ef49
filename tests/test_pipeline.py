"""The post-processing pipeline of the runners: stages on their own threads, in clip order."""

from __future__ import annotations

import time

import pytest

from axialvs_cli.inference.runner import _ClipWorker


def test_two_stages_keep_the_order_and_hand_results_on() -> None:
    seen: list[tuple[int, int]] = []

    def first(i: int) -> tuple[int, int]:
        time.sleep(0.002 * (i % 3))  # uneven work
        return i, i * i

    second = _ClipWorker(lambda i, sq: seen.append((i, sq)))
    worker = _ClipWorker(first, then=second)
    for i in range(20):
        worker.submit(i)
    worker.join()
    assert seen == [(i, i * i) for i in range(20)]
    assert worker.total_busy_s >= worker.busy_s > 0


def test_an_error_of_the_second_stage_reaches_the_caller() -> None:
    def fail(i: int) -> None:
        if i == 3:
            raise RuntimeError("disk full")

    worker = _ClipWorker(lambda i: (i,), then=_ClipWorker(fail))
    with pytest.raises(RuntimeError, match="disk full"):
        for i in range(50):
            worker.submit(i)
            time.sleep(0.001)
        worker.join()
    worker.close()  # after an error: returns, nothing left running
