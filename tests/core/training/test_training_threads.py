"""The CPU trainer's threads follow the cores other programs leave free, and are given back."""

from __future__ import annotations

import numpy as np
import torch

from core.training import threads as T


def test_threads_are_the_cores_other_programs_leave_at_least_one():
    assert T.threads_for(2, 0.1) == 2 and T.threads_for(2, 1.0) == 1 and T.threads_for(2, 3.5) == 1
    assert T.threads_for(8, 2.4) == 6 and T.threads_for(4, -1.0) == 4


def test_the_policy_rechecks_the_load_less_its_own_threads_and_gives_the_count_back():
    now, load, set_to = [0.0], [0.2], []
    p = T.ThreadPolicy(cores=2, load=lambda: load[0], clock=lambda: now[0], get=lambda: 2, set_=set_to.append)
    assert p.tick() == 2 and set_to == []  # idle: both cores
    load[0] = 3.0  # our 2 threads and another program's one
    now[0] = 10.0
    assert p.tick() == 2  # not yet: checked every EVERY_S
    now[0] = T.EVERY_S + 1
    assert p.tick() == 1 and set_to == [1]
    load[0] = 1.1  # our one thread alone: the other program has ended
    now[0] = 2 * T.EVERY_S + 2
    assert p.tick() == 2 and set_to == [1, 2]
    load[0], now[0] = 2.0, 3 * T.EVERY_S + 3
    assert p.tick() == 2  # 2 of ours: nobody else
    p.close()
    assert set_to == [1, 2]  # already back at the count it found


def test_a_cpu_run_trains_on_the_free_cores_and_leaves_the_count_as_it_was(tmp_path, monkeypatch):
    from core.data.prepared import PreparedDataset
    from core.training.config import TrainConfig
    from core.training.trainer import train

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(T.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(T.os, "getloadavg", lambda: (1.2, 1.0, 1.0))  # another program on one core
    before = torch.get_num_threads()
    seen = []
    data = PreparedDataset.from_array(
        (np.random.default_rng(0).random((8, 16, 16, 1)) * 255).astype(np.uint8)
    )
    config = TrainConfig(
        preset="unet-tiny", batch_size=4, max_steps=2, max_minutes=None, device="cpu", preview_every=0,
        val_every=0, checkpoint_every=0, memorization_every=0,
    )  # fmt: skip
    train(config, data, tmp_path / "run", on_progress=lambda *_: seen.append(torch.get_num_threads()))
    assert seen == [1, 1] and torch.get_num_threads() == before
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a person's own setting is left alone
    assert T.ThreadPolicy.for_device("cpu") is None and T.ThreadPolicy.for_device("cuda") is None
