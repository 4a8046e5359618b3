from __future__ import annotations

import pytest
import torch

from core.metrics.heldout import heldout_loss_by_band, model_loss_fn


def test_an_oracle_scores_zero_and_predicting_nothing_scores_one(blob_dataset):
    oracle = heldout_loss_by_band(
        lambda x_t, t, target: torch.zeros(len(target)), blob_dataset, objective="eps"
    )
    assert oracle.loss == [0.0, 0.0, 0.0, 0.0]
    assert oracle.ratio == 0.0 and oracle.split == "val" and oracle.rows == 3

    def zeros(x_t, t, target):
        return target.pow(2).flatten(1).mean(1)  # the error of an all-zero prediction

    nothing = heldout_loss_by_band(zeros, blob_dataset, objective="flow")
    assert nothing.ratio == pytest.approx(1.0)
    assert len(nothing.bands) == 4 and nothing.bands[0] == (0.0, 0.25)


def test_eps_baseline_is_the_noise_variance(blob_dataset):
    b = heldout_loss_by_band(lambda x_t, t, target: torch.zeros(len(target)), blob_dataset, objective="eps")
    assert all(0.7 < v < 1.3 for v in b.baseline)  # eps target is unit Gaussian noise (256 values x 6 rows)


def test_a_loaded_model_gets_the_trainers_own_figure(tiny_model_dir, blob_dataset):
    from core.diffusion.objectives import make_objective
    from core.metrics.validation import HeldOut
    from core.models.folder import load_model_folder

    model = load_model_folder(tiny_model_dir)
    ours = heldout_loss_by_band(model, blob_dataset)
    trainers = HeldOut(blob_dataset, 16).losses(model.network, make_objective("eps", "linear"), device="cpu",
                                                 dtype=torch.float32)  # fmt: skip
    assert ours.mean == pytest.approx(trainers["val_loss"], rel=1e-5)
    via_callable = heldout_loss_by_band(
        model_loss_fn(model.network), blob_dataset, objective="eps", schedule="linear"
    )
    assert via_callable.loss == pytest.approx(ours.loss, rel=1e-5)
    assert via_callable.baseline == pytest.approx(ours.baseline)
    assert 0.5 < ours.ratio < 2.0  # an untrained network explains about nothing


def test_without_heldout_pictures_the_training_split_is_used_or_none(blob_dataset):
    import numpy as np

    from core.data.prepared import PreparedDataset

    small = PreparedDataset.from_array(np.asarray(blob_dataset.array[:6]))
    assert len(small.val_indices) == 0
    fn = lambda x_t, t, target: torch.zeros(len(target))  # noqa: E731
    assert heldout_loss_by_band(fn, small, objective="eps").split == "train"
    assert heldout_loss_by_band(fn, small, objective="eps", use_train_if_no_val=False) is None
