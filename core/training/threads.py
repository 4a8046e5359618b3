"""How many threads CPU training uses: the cores other programs leave free.

torch uses one intra-op thread per core, and its OpenMP threads wait actively for each other; with
another program busy on one of two cores, a 2-thread run makes a fifth of its idle steps while one
thread keeps about half (`benchmarks/results/train_threads.json`; passive waiting was slower idle
and did not recover the loss). So on the CPU the trainer sets its thread count to the cores minus
the load other programs put on them (the 1-minute load average less this run's own threads), at the
start and every :data:`EVERY_S` seconds, and gives the old count back at the end. Where a person set
``OMP_NUM_THREADS`` (or there is no load average, as on Windows) nothing is changed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

EVERY_S = 30.0  # the load average moves over a minute; checking more often only adds noise


def threads_for(cores: int, others: float) -> int:
    """Threads for ``cores`` cores when other programs keep ``others`` of them busy: what is left,
    at least one."""
    return max(1, min(cores, cores - round(max(0.0, others))))


class ThreadPolicy:
    """Follows the load while a CPU run trains; :meth:`tick` between steps, :meth:`close` at the end."""

    def __init__(
        self,
        *,
        cores: int | None = None,
        load: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        get: Callable[[], int] | None = None,
        set_: Callable[[int], None] | None = None,
    ) -> None:
        import torch

        self.cores = cores or os.cpu_count() or 1
        self.load = load or (lambda: os.getloadavg()[0])
        self.clock, self.get, self.set = clock, get or torch.get_num_threads, set_ or torch.set_num_threads
        self.before = self.get()
        self.threads = self.before
        self.checked = -float("inf")
        self.busy = False  # this run's own threads are in the load average once it trains

    @classmethod
    def for_device(cls, device: str) -> ThreadPolicy | None:
        """The policy for a run on ``device``: None off the CPU, where ``OMP_NUM_THREADS`` is set, or
        without a load average."""
        if device != "cpu" or os.environ.get("OMP_NUM_THREADS") or not hasattr(os, "getloadavg"):
            return None
        try:
            os.getloadavg()
        except OSError:
            return None
        return cls()

    def tick(self) -> int:
        """Re-check the load when :data:`EVERY_S` has passed; the thread count in use."""
        now = self.clock()
        if now - self.checked < EVERY_S:
            return self.threads
        self.checked = now
        try:
            others = self.load() - (self.threads if self.busy else 0)
        except OSError:
            return self.threads
        self.busy = True
        want = threads_for(self.cores, others)
        if want != self.threads:
            self.set(want)
            self.threads = want
        return self.threads

    def close(self) -> None:
        if self.threads != self.before:
            self.set(self.before)
            self.threads = self.before
