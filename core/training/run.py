"""One training run's state and the work done beside the optimizer steps.

:class:`Run` holds what :func:`core.training.trainer.train` builds once and then advances: the
accelerator, the network and its EMA, the optimizer, the batch stream, the step and time counters,
the run folder and its metrics log. Its methods are the pieces of the loop: one optimizer step,
the train-metrics window, the stop decision, and the side work (checkpoint, preview, held-out
loss, copying check, autoguidance's guide), each timed so a ``max_minutes`` budget can leave room
for them. The refusals (resolution, resume, preset) happen before a ``Run`` is made.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.data.prepared import PreparedDataset
from core.errors import NoisebloomError
from core.training.config import TrainConfig
from core.training.gpu import DeferredCheck, compile_mode_for, defers, memory_format_for
from core.training.optim import make_optimizer

if TYPE_CHECKING:
    from core.training.checkpoint import TrainerState

PreviewFn = Callable[[int, np.ndarray], None]
MetricFn = Callable[[int, dict], None]


# Previews come every ``preview_every`` steps and also on the clock, so a slow run shows one too:
# the first after FIRST_PREVIEW_S, then at least every PREVIEW_S, but never so often that previews
# take more than PREVIEW_SHARE of the time (a preview's cost is measured each time).
FIRST_PREVIEW_S = 10.0
PREVIEW_S = 30.0
PREVIEW_SHARE = 0.1


def now() -> float:
    """The trainer's clock, in seconds (``time.monotonic``): budgets and costs read it, so a test can
    replace it and check a time budget without waiting for one."""
    return time.monotonic()


class Run:
    """A run from its first (or resumed) step to its last; see the module docstring.

    ``writing["folder"]`` names the folder being written while a checkpoint or a preview is saved,
    so a failed write can say where it failed."""

    def __init__(
        self,
        config: TrainConfig,
        data: PreparedDataset,
        run_dir: Path,
        *,
        accelerator: Any,
        network: torch.nn.Module,
        lineage: dict[str, Any],
        optimizer_kind: str,
        resolution: int,
        sample_shape: tuple[int, ...],
        previous: TrainerState | None,
        t_begin: float,
        should_stop: Callable[[], bool] | None,
        on_preview: PreviewFn | None,
        on_metric: MetricFn | None,
        writing: dict[str, Path | None],
    ) -> None:
        from diffusers.training_utils import EMAModel

        from core.diffusion.objectives import make_objective
        from core.metrics.metrics_log import MetricsLog
        from core.metrics.validation import HeldOut
        from core.models.presets import get_preset
        from core.training.batches import BatchStream

        self.config, self.data, self.run_dir = config, data, run_dir
        self.state_dir, self.model_dir = run_dir / "state", run_dir / "model"
        self.accelerator = accelerator
        self.main, self.rank, self.world, self.device = (
            accelerator.is_main_process,
            accelerator.process_index,
            accelerator.num_processes,
            accelerator.device,
        )
        self.resolution, self.sample_shape = resolution, sample_shape
        self.should_stop, self.on_preview, self.on_metric = should_stop, on_preview, on_metric
        self.writing = writing
        self.t_begin = t_begin

        self.objective = make_objective(config.objective, config.schedule)
        self.peak = config.peak_lr()
        network_kind = get_preset(config.preset).network
        self.memory_format = memory_format_for(config.memory_format, self.device, network_kind)
        if self.memory_format is torch.channels_last:
            network = network.to(memory_format=torch.channels_last)
        optimizer = make_optimizer(
            optimizer_kind,
            network.parameters(),
            lr=self.peak,
            betas=(0.9, config.adam_beta2),
            weight_decay=config.weight_decay,
            device=self.device,  # where accelerate is about to move the network
            bf16=config.mixed_precision == "bf16" or accelerator.mixed_precision == "bf16",
        )
        self.model, self.optimizer = accelerator.prepare(network, optimizer)
        # what saving, the EMA, previews and the sampling copy use (never the compiled module)
        self.net = accelerator.unwrap_model(self.model)
        inner = self.optimizer.optimizer
        self.finite = (
            DeferredCheck(inner, self.device, config.log_every) if defers(self.device, inner) else None
        )
        self.net.train()
        self.ema: Any = None
        if config.ema_decay > 0:
            self.ema = EMAModel(
                self.net.parameters(),
                decay=config.ema_decay,
                use_ema_warmup=True,
                power=config.ema_power_value(),
                foreach=True,
            )
            self.ema.to(self.device)
        self.sample_net = copy.deepcopy(self.net).eval().requires_grad_(False)
        # autoguidance's guide: the sampling weights from ``guide_at`` of the run (main process only)
        self.guide_net: torch.nn.Module | None = None
        self.guide_step = 0
        self.guide_weight: float | None = None  # chosen at the end (choose_guidance)
        self.amp_dtype = torch.float32
        # bf16 on the CPU is the run's own autocast: accelerate's state is one per process, and the
        # engine trains runs of either precision one after another (core.training.precision)
        self.cpu_bf16 = config.mixed_precision == "bf16" and self.device.type == "cpu"

        seed = config.seed * 1_000_003 + 7919 * (self.rank + 1)
        self.noise_gen = torch.Generator(device=self.device).manual_seed(seed)
        # reseeded per batch from its stream position (core.training.augment)
        self.aug_gen = torch.Generator()
        self.step, position, self.elapsed_before = 0, 0, 0.0
        if previous is not None:
            position = self._restore(previous)

        if self.main:
            run_dir.mkdir(parents=True, exist_ok=True)
            config.save(run_dir / "config.json")
            (run_dir / "samples").mkdir(exist_ok=True)
        resume_step = self.step if previous else None
        self.log = MetricsLog(run_dir / "metrics.jsonl", resume_step=resume_step, enabled=self.main)

        flip = data.flip if config.flip is None else config.flip
        self.stream = BatchStream(
            data, config.batch_size, seed=config.seed, rank=self.rank, world=self.world, flip=flip,
            resolution=resolution, position=position,
        )  # fmt: skip
        self.held_out = HeldOut(data, resolution) if self.main and config.val_every else None
        self.per_step = config.batch_size * self.world * config.grad_accum
        self.step_budget = config.max_steps
        if config.max_epochs is not None:
            by_epochs = max(1, math.ceil(config.max_epochs * len(self.stream.rows) / self.per_step))
            self.step_budget = by_epochs if self.step_budget is None else min(self.step_budget, by_epochs)
        self.time_budget = config.max_minutes * 60.0 if config.max_minutes else None
        self.info = {
            "preset": lineage["preset"],
            "kind": data.kind,
            "frames": data.frames,
            "fps": data.fps,
            "resolution": resolution,
            "channels": data.channels,
            "parent": lineage["parent"],
        }
        # seconds, last measured: the margin a time budget keeps for the next step and the side work
        self.cost = {"step": 0.0, "save": 2.0, "preview": 0.0, "val": 0.0, "copying": 0.0, "guidance": 0.0}
        self.saved_step = self.step if previous is not None else -1
        self.previewed_step, self.preview_t = -1, now()  # the last preview's step and time
        self.last: dict[str, Any] = {}  # the last train metrics written
        self.bad_steps = 0
        self._loss_sum = torch.zeros((), device=self.device)
        self._window_bad = torch.zeros((), device=self.device)  # skipped steps in the window (deferred check)
        self._loss_n, self._window_images, self._window_t = 0, 0, 0.0
        self.compile_mode = compile_mode_for(config.compile, self.device, self.time_budget, self.step_budget)
        if self.compile_mode is not None:  # what trains; self.net stays the uncompiled module
            self.model = torch.compile(self.model, mode=self.compile_mode)

    def autocast(self) -> Any:
        """The forward passes' precision: bf16 autocast on a CPU run that chose it, else accelerate's."""
        if self.cpu_bf16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return self.accelerator.autocast()

    def _restore(self, previous: TrainerState) -> int:
        """Load the checkpoint's weights, optimizer, EMA, noise generator and guide; the stream position."""
        self.net.load_state_dict(previous.weights)
        self.optimizer.optimizer.load_state_dict(previous.optimizer)
        if self.ema is not None and previous.ema is not None:
            self.ema.load_state_dict(previous.ema)
            self.ema.to(self.device)
        if previous.rng is not None and previous.rng.shape[0] == self.world:
            self.noise_gen.set_state(previous.rng[self.rank].clone())
        self.step, self.elapsed_before = previous.step, previous.elapsed_s
        if previous.guide is not None and self.main:
            self.guide_net = copy.deepcopy(self.sample_net)
            self.guide_net.load_state_dict(previous.guide)
            self.guide_step = previous.guide_step
        return previous.position

    # --- time and budgets ---------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds of training, the resumed run's included."""
        return self.elapsed_before + now() - self.t_begin

    def progress_fraction(self) -> float:
        """How far through its step or time budget the run is (the larger of the two, 0 without)."""
        fracs = [0.0]
        if self.step_budget:
            fracs.append(self.step / self.step_budget)
        if self.time_budget:
            fracs.append(self.elapsed() / self.time_budget)
        return max(fracs)

    def total(self) -> int:
        """The step count the run is expected to reach (the step budget, or what the time allows)."""
        totals = []
        if self.step_budget is not None:
            totals.append(self.step_budget)
        if self.time_budget is not None and self.cost["step"] > 0:
            totals.append(self.step + max(0, int((self.time_budget - self.elapsed()) / self.cost["step"])))
        return max(self.step, min(totals)) if totals else self.step

    def progress(self) -> dict[str, Any]:
        """What ``on_progress`` reports beside the step: the last train metrics, elapsed and ETA."""
        elapsed = self.elapsed()
        eta = (self.total() - self.step) * self.cost["step"]
        if self.time_budget is not None:
            eta = min(eta, max(0.0, self.time_budget - elapsed))
        last = self.last
        return {
            "loss": last.get("loss"),
            "lr": last.get("lr"),
            "img_per_s": last.get("img_per_s"),
            "epoch": last.get("epoch"),
            "elapsed_s": elapsed,
            "eta_s": eta,
        }

    def decide_stop(self) -> tuple[bool, bool]:
        """(stop, early): the same answer in every process (rank 0 decides)."""
        stop, early = False, False
        if self.step_budget is not None and self.step >= self.step_budget:
            stop = True
        elif self.should_stop is not None and self.should_stop():
            stop, early = True, True
        elif self.time_budget is not None:
            cost = self.cost
            extras = cost["preview"] + cost["val"] + cost["copying"] + self.guidance_estimate()
            margin = cost["step"] * 1.5 + cost["save"] * 1.2 + extras + 0.5
            stop = self.elapsed() + margin >= self.time_budget
        if self.world > 1:
            flag = torch.tensor([int(stop) + 2 * int(early)], device=self.device)
            torch.distributed.broadcast(flag, 0)
            stop, early = bool(flag.item() & 1), bool(flag.item() & 2)
        return stop, early

    def at_budget(self) -> bool:
        return self.step_budget is not None and self.step >= self.step_budget

    # --- the optimizer step -------------------------------------------------------------------------
    def train_step(self, lr: float) -> tuple[torch.Tensor, Any] | None:
        """One optimizer step at ``lr`` over ``grad_accum`` batches: (the last batch's loss, the
        gradient norm), or None when the loss or gradient was not finite (the step is skipped and
        logged; ``max_bad_steps`` of them in a row stop the run)."""
        from core.diffusion.objectives import noisy_batch
        from core.diffusion.weighting import loss_weights, weighted_mse
        from core.training.augment import augment as augment_batch
        from core.training.augment import batch_seed

        config, accelerator, model = self.config, self.accelerator, self.model
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.compile_mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # a new step: the graphs' last outputs are spent
        for _ in range(config.grad_accum):
            x0 = self.stream.next_batch(self.device)
            told: dict[str, torch.Tensor] = {}  # the augment labels, for a network that is augmented
            if config.augment:
                self.aug_gen.manual_seed(batch_seed(config.seed, self.stream.position, self.rank))
                x0, told["augment_labels"] = augment_batch(x0, config.augment, self.aug_gen)
            with accelerator.accumulate(model):
                nb = noisy_batch(self.objective, x0, self.noise_gen, t_sampling=config.t_sampling)
                x_t = nb.x_t
                if self.memory_format is torch.channels_last:
                    x_t = x_t.contiguous(memory_format=torch.channels_last)
                with self.autocast():
                    pred = model(x_t, nb.timesteps, **told).sample
                weights = loss_weights(nb.snr, config.objective, config.loss_weighting, config.snr_gamma)
                loss = weighted_mse(pred, nb.target, weights)
                accelerator.backward(loss)
        norm = accelerator.clip_grad_norm_(model.parameters(), config.grad_clip or float("inf"))
        loss = loss.detach()
        if self.finite is not None:  # on the device: the optimizer skips a flagged step (core.training.gpu)
            bad = self.finite.mark(norm)
            self._window_bad += bad
            loss = torch.where(bad > 0, torch.zeros_like(loss), loss)
        elif not torch.isfinite(torch.as_tensor(norm)).item():
            self.optimizer.zero_grad(set_to_none=True)
            self.bad_steps += 1
            self._skipped(1, self.bad_steps)
            return None
        else:
            self.bad_steps = 0
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.step(self.net.parameters())
        return loss, norm

    def _skipped(self, count: int, in_a_row: int) -> None:
        """Log ``count`` skipped steps; stop the run when ``in_a_row`` reached ``max_bad_steps``."""
        for _ in range(count):
            self.log.write({"step": self.step, "kind": "skipped", "reason": "non-finite loss or gradient"})
        if in_a_row >= self.config.max_bad_steps:
            raise NoisebloomError(
                f"training: the loss was NaN or infinite for {in_a_row} steps in a row at step {self.step}",
                fix=f"lower the learning rate (now {self.peak:g}) or check the data; "
                f"the last checkpoint in {self.run_dir} is intact",
            )

    def settle_finite(self) -> None:
        """The deferred check's read (every ``log_every`` steps and at the end): the skipped steps'
        rows, and the error after ``max_bad_steps`` in a row. Nothing to do for the per-step check."""
        if self.finite is not None:
            self._skipped(*self.finite.read())

    def count(self, loss: torch.Tensor, t0: float) -> None:
        """Count a finished step begun at ``t0`` (:func:`now`) into the step and the metrics window."""
        self.step += 1
        self._loss_sum += loss
        self._loss_n += 1
        self._window_images += self.per_step
        dt = now() - t0
        self._window_t += dt
        self.cost["step"] = dt if self.cost["step"] == 0 else 0.8 * self.cost["step"] + 0.2 * dt

    def log_train(self, lr: float, norm: Any) -> None:
        """Write the window's train metrics (mean loss over every process) and start a new window."""
        if self.finite is None:
            mean_loss = self.accelerator.reduce(self._loss_sum / max(self._loss_n, 1), "mean").item()
        else:  # the skipped steps' losses were counted as 0: leave them out of the mean
            counted = (self._loss_n - self._window_bad).clamp(min=1)
            mean_loss = self.accelerator.reduce(self._loss_sum / counted, "mean").item()
            self._window_bad.zero_()
        norm = float(norm)
        img_s = self._window_images / self._window_t if self._window_t > 0 else 0.0
        self.last = {
            "step": self.step,
            "kind": "train",
            "loss": mean_loss,
            "lr": lr,
            "img_per_s": img_s,
            "epoch": self.stream.epoch,
            "grad_norm": norm if math.isfinite(norm) else None,
            "elapsed_s": round(self.elapsed(), 3),
        }
        self.log.write(self.last)
        self._loss_sum.zero_()
        self._loss_n, self._window_images, self._window_t = 0, 0, 0.0

    # --- the side work ------------------------------------------------------------------------------
    def _refresh_sample_net(self) -> None:
        """The sampling copy takes the EMA weights (the trained ones without an EMA)."""
        if self.ema is not None:
            self.ema.copy_to(self.sample_net.parameters())
        else:
            self.sample_net.load_state_dict(self.net.state_dict())

    def checkpoint(self) -> None:
        """Save ``state/`` (everything an exact resume needs) and the model folder ``model/``."""
        from core.models.folder import save_model_folder
        from core.training.checkpoint import save_state

        config = self.config
        t0 = now()
        rng = self.noise_gen.get_state()
        if self.world > 1:
            rng = self.accelerator.gather(rng[None].to(self.device)).cpu()
        else:
            rng = rng[None]
        if self.main:
            self._refresh_sample_net()
            guide_state = self.guide_net.state_dict() if self.guide_net is not None else None
            self.writing["folder"] = self.state_dir
            save_state(
                self.state_dir,
                step=self.step,
                position=self.stream.position,
                elapsed_s=self.elapsed() + self.cost["save"],
                weights=self.net.state_dict(),
                optimizer_state=self.optimizer.optimizer.state_dict(),
                ema_state=self.ema.state_dict() if self.ema is not None else None,
                rng=rng,
                extra={"world": self.world, "epoch": self.stream.epoch},
                guide=guide_state,
                guide_step=self.guide_step,
            )
            self.writing["folder"] = self.model_dir
            save_model_folder(
                self.sample_net, config.objective, dict(self.info, trained_steps=self.step), self.model_dir,
                schedule=None if config.objective == "flow" else config.schedule,
                guide=guide_state, guide_steps=self.guide_step, guide_weight=self.guide_weight,
                card=self.card_facts(),
            )  # fmt: skip
            self.writing["folder"] = None
        self.cost["save"] = now() - t0
        self.saved_step = self.step

    def card_facts(self) -> dict[str, Any]:
        """What the model card (:mod:`core.models.card`) says beside ``noisebloom.json``: the data's
        size, the training time and device, and the latest preview grid at or before this step."""
        pictures = len(self.data.train_indices) + len(self.data.val_indices) or len(self.data)
        device = str(self.device)
        if self.device.type == "cuda":
            device = f"cuda ({torch.cuda.get_device_name(self.device)})"
        facts: dict[str, Any] = {
            "images": int(pictures),
            "elapsed_s": round(self.elapsed(), 1),
            "device": device if self.world == 1 else f"{self.world} × {device}",
        }
        steps = {}
        for png in (self.run_dir / "samples").glob("step_*.png"):
            if png.stem[5:].isdigit() and int(png.stem[5:]) <= self.step:
                steps[int(png.stem[5:])] = png
        if steps:
            latest = max(steps)
            facts["samples_step"], facts["samples_png"] = latest, steps[latest].read_bytes()
        return facts

    def guide_due(self) -> bool:
        """Whether the run has reached ``guide_at`` without a guide yet."""
        guide_at = self.config.guide_at
        return bool(guide_at) and self.guide_net is None and self.progress_fraction() >= guide_at

    def keep_guide(self) -> None:
        """Keep the sampling weights of this step as autoguidance's guide (``TrainConfig.guide_at``)."""
        self._refresh_sample_net()
        self.guide_net = copy.deepcopy(self.sample_net)
        self.guide_step = self.step
        self.log.write({"step": self.step, "kind": "guide", "elapsed_s": round(self.elapsed(), 3)})

    def choose_guidance(self) -> None:
        """Choose the weight the model samples with by default on the folder's own pictures
        (:mod:`core.training.guidance_choice`); a run without a guide, of clips or too short keeps
        the default."""
        from core.sampling.guidance import guided
        from core.training.guidance_choice import MIN_STEPS, choose_weight
        from core.training.preview import preview_samples

        config = self.config
        if self.guide_net is None or self.data.kind == "clip" or self.step < MIN_STEPS:
            return
        t0 = now()
        self._refresh_sample_net()

        def draw(weight: float, n: int) -> np.ndarray:
            network = guided(self.sample_net, self.guide_net, weight) if weight else self.sample_net
            with self.autocast():
                return preview_samples(
                    network, config.objective, config.schedule, range(n), config.preview_steps,
                    self.sample_shape, device=self.device,
                )  # fmt: skip

        self.guide_weight, distance = choose_weight(draw, self._pictures())
        self.cost["guidance"] = now() - t0
        self.log.write({"step": self.step, "kind": "guidance", "weight": self.guide_weight,
                        "distance": {f"{w:g}": round(d, 4) for w, d in distance.items()},
                        "elapsed_s": round(self.elapsed(), 3)})  # fmt: skip

    def _pictures(self) -> np.ndarray:
        """The folder's pictures as uint8 (N, H, W, C) at the run's resolution."""
        from core.data.torch_data import resize, to_model_range
        from core.sampling.trajectory import tensor_to_uint8

        rows = np.concatenate([self.data.train_indices, self.data.val_indices]).astype(np.int64)
        rows = np.sort(rows) if len(rows) else np.arange(len(self.data))
        pictures = np.asarray(self.data.array[rows])
        if pictures.shape[1] != self.resolution:
            pictures = tensor_to_uint8(resize(to_model_range(pictures), self.resolution))
        return pictures

    def guidance_estimate(self) -> float:
        """Seconds the end of the run will take to choose the guidance weight: about sixteen previews."""
        from core.training.guidance_choice import MIN_STEPS

        if self.guide_net is None or self.data.kind == "clip" or self.step < MIN_STEPS:
            return 0.0
        return self.cost["guidance"] or 16 * self.cost["preview"]

    def preview_due(self) -> bool:
        """Whether a preview is due now: at every ``preview_every`` steps, or on the clock (above)."""
        every = self.config.preview_every
        if not every or self.previewed_step == self.step:
            return False
        if self.step % every == 0:
            return True
        wait = FIRST_PREVIEW_S if self.previewed_step < 0 else PREVIEW_S
        return now() - self.preview_t >= max(wait, self.cost["preview"] / PREVIEW_SHARE)

    def preview(self) -> None:
        """Sample the preview seeds as Generate would by default; write ``samples/step_NNNNNNN.png``."""
        from core.media.png import write_png
        from core.sampling.guidance import DEFAULT_GUIDANCE, guided
        from core.training.preview import grid, preview_samples

        config = self.config
        t0 = now()
        self._refresh_sample_net()
        # what Generate samples by default
        network = guided(self.sample_net, self.guide_net, DEFAULT_GUIDANCE)
        with self.autocast():
            images = preview_samples(
                network, config.objective, config.schedule, config.preview_seeds, config.preview_steps,
                self.sample_shape, device=self.device,
            )  # fmt: skip
        self.writing["folder"] = self.run_dir / "samples"
        path = self.run_dir / "samples" / f"step_{self.step:07d}.png"
        write_png(path, grid(images))  # atomic: never half a file
        self.writing["folder"] = None
        self.cost["preview"] = now() - t0
        self.previewed_step, self.preview_t = self.step, now()
        if self.on_preview is not None:
            self.on_preview(self.step, images)

    def validate(self) -> dict[str, float]:
        """The held-out loss of the sampling weights (:class:`core.metrics.validation.HeldOut`)."""
        assert self.held_out is not None
        t0 = now()
        self._refresh_sample_net()
        with self.autocast():
            vals = self.held_out.losses(
                self.sample_net, self.objective, device=self.device, dtype=self.amp_dtype
            )
        self.cost["val"] = now() - t0
        if vals:
            self.log.write({"step": self.step, "kind": "val", "elapsed_s": round(self.elapsed(), 3), **vals})
            if self.on_metric is not None:
                self.on_metric(self.step, vals)
        return vals

    def check_copying(self) -> None:
        """The memorised share of fixed-seed samples from the EMA weights (:mod:`core.training.copying`)."""
        from core.training.copying import memorized_share
        from core.training.preview import preview_samples

        config = self.config
        t0 = now()
        self._refresh_sample_net()

        def draw(seeds: Any) -> np.ndarray:
            with self.autocast():
                return preview_samples(
                    self.sample_net, config.objective, config.schedule, seeds, config.preview_steps,
                    self.sample_shape, device=self.device,
                )  # fmt: skip

        copying = memorized_share(draw, self.data, self.resolution)
        self.cost["copying"] = now() - t0
        if copying:
            self.log.write(
                {"step": self.step, "kind": "memorization", "elapsed_s": round(self.elapsed(), 3), **copying}
            )
            if self.on_metric is not None:
                self.on_metric(self.step, copying)
