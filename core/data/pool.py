"""The decoding processes of a scan, and the order their results come back in.

:class:`DecoderPool` runs :func:`core.data.decode.process` in a pool of spawned processes (in the
calling process for one worker). A file that crashes its decoder is found by running it alone and
is rejected; when processes cannot start at all, the scan decodes in the calling process instead.
:func:`in_order` keeps a bounded window of files in flight and yields the results in the files'
order, so the dataset is written in that order whatever finishes first.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from core.data.classify import Entry
from core.data.decode import FileResult, Task, init_worker, process
from core.data.discover import display_name


class _Done:
    """A finished (or lazily run, in-process) piece of work with the ``Future.result`` shape."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def result(self) -> FileResult:
        return process(self.task)


class DecoderPool:
    """Runs :func:`core.data.decode.process` in ``workers`` processes (or in-process for one)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.fallback: str | None = None
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:
            self.pool = self._new_pool(workers)

    @staticmethod
    def _new_pool(n: int) -> ProcessPoolExecutor:
        # spawn: the engine process holds torch threads, which a fork would copy in a broken state.
        return ProcessPoolExecutor(
            max_workers=n, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker
        )

    def submit(self, task: Task) -> Future[FileResult] | _Done:
        return self.pool.submit(process, task) if self.pool else _Done(task)

    def result(self, handle: Future[FileResult] | _Done, task: Task) -> tuple[FileResult, bool]:
        """The result, and whether the pool broke (then every other pending handle must be resubmitted)."""
        try:
            return handle.result(), False
        except BrokenProcessPool:
            pass
        # A decoder crashed its process. Run this file alone in a fresh process to see if it is the culprit.
        self.close()
        solo = self._new_pool(1)
        try:
            res = solo.submit(process, task).result()
        except BrokenProcessPool:
            res = None
        finally:
            solo.shutdown(wait=True, cancel_futures=True)
        if res is None and not self._processes_work():
            # Not this file: processes cannot start here at all (e.g. a main module without the
            # ``if __name__ == "__main__":`` guard). Decode in this process instead of losing the files.
            self.workers, self.pool = 1, None
            self.fallback = "decoding processes could not start; decoded in the calling process instead"
            return process(task), True
        if res is None:
            res = FileResult(
                task.path,
                task.name,
                ok=False,
                reason=f"{display_name(task.name)}: crashed the decoder (the file is malformed); re-export it or remove it",
            )
        self.pool = self._new_pool(self.workers)
        return res, True

    def _processes_work(self) -> bool:
        probe = self._new_pool(1)
        try:
            return bool(probe.submit(os.getpid).result())
        except BrokenProcessPool:
            return False
        finally:
            probe.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def in_order(
    entries: list[Entry], runner: DecoderPool, window: int
) -> Iterator[tuple[Entry, FileResult | None]]:
    """Each entry with its decode result (None when it needs no decoding), in the entries' order."""
    pending: deque[list[Any]] = deque()
    it = iter(entries)
    in_flight = 0

    def refill() -> None:
        nonlocal in_flight
        while in_flight < window:
            e = next(it, None)
            if e is None:
                return
            handle = runner.submit(e.task) if e.task is not None else None
            in_flight += handle is not None
            pending.append([e, handle])

    refill()
    while pending:
        e, handle = pending.popleft()
        result = None
        if handle is not None:
            in_flight -= 1
            result, broke = runner.result(handle, e.task)
            if broke:
                for item in pending:
                    if item[1] is not None:
                        item[1] = runner.submit(item[0].task)
        refill()
        yield e, result
