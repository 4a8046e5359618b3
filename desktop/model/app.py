"""The app's root state: owns the engine connection and routes every event to the state object
that started the job (scan, training, generation, health check, export), the job queue and the library.

Views observe these objects; these objects never touch a widget (napari's model/view split).
``client`` is anything with ``send(cmd, args, on_result=, on_error=) -> id`` and the signals
``event_received``, ``hello_received``, ``state_changed`` and ``died`` of
:class:`desktop.engine_client.EngineClient`; tests pass a scripted one.

An export never replaces files silently: the engine refuses one whose output exists (an ``error``
with ``data.existing``); ``replace_asked`` hands that list to the window, which asks the person and
answers with :meth:`AppModel.replace_existing` (sent again with ``overwrite``) or
:meth:`AppModel.keep_existing`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.engine import protocol as P
from core.words import count
from desktop.model.fast import FastModel
from desktop.model.generation import GenerationModel
from desktop.model.health import HealthModel
from desktop.model.jobs import JobsModel
from desktop.model.library import LibraryModel
from desktop.model.scan import ScanModel
from desktop.model.training import TrainingModel


class AppModel(QObject):
    error = Signal(str)  # one line for the message bar
    info = Signal(str)
    exported_to = Signal(str, str)  # message, the folder the export went into (to offer opening it)
    engine_changed = Signal(str, str)  # state, device
    area_requested = Signal(str)  # "Data" | "Train" | "Generate" | "Health"
    replace_asked = Signal(str, list)  # a refused export's id, the files it would replace

    def __init__(self, client: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.jobs = JobsModel(self)
        self.library = LibraryModel(client, self)
        self.scan = ScanModel(self, self)
        self.training = TrainingModel(self, self)
        self.generation = GenerationModel(self, self)
        self.health = HealthModel(self, self)
        self.fast = FastModel(self, self)
        self.engine_state = getattr(client, "state", "stopped")
        self.device = ""
        self.workspace = ""
        self.last_error = ""
        self._owners: dict[str, Any] = {}
        self._exports: dict[str, dict[str, Any]] = {}  # export job id -> its args, until it ends
        self._refused: dict[str, dict[str, Any]] = {}  # refused for existing files, until answered
        self._finetune_scans: set[str] = set()
        self._quiet: set[str] = set()  # control commands whose error answer is no news
        client.event_received.connect(self._on_event)
        client.hello_received.connect(self._on_hello)
        client.state_changed.connect(self._on_engine_state)
        client.died.connect(lambda msg: self.report_error(msg))

    # --- sending ---------------------------------------------------------------------------------
    def submit(self, kind: str, args: dict[str, Any], owner: Any | None = None) -> str:
        job_id = self.client.send(kind, args)
        self.jobs.add(job_id, kind)
        if owner is not None:
            self._owners[job_id] = owner
        return job_id

    def control(
        self, cmd: str, job_id: str, args: dict[str, Any] | None = None, *, quiet: bool = False
    ) -> None:
        """Send a control command (pause, resume, stop, cancel) for ``job_id``, with extra ``args``
        (cancel's ``discard``); an error answer goes to the message bar unless ``quiet`` (a cancel
        of a job that may have ended meanwhile: a superseded generation's)."""
        cid = self.client.send(
            cmd,
            {"job": job_id, **(args or {})},
            on_result=lambda data: self._controlled(cmd, job_id, data),
            on_error=None if quiet else (lambda e: self.report_error(e.message)),
        )
        if quiet:
            self._quiet.add(cid)

    def _controlled(self, cmd: str, job_id: str, data: dict[str, Any]) -> None:
        """A cancel of a training run that had a checkpoint kept it (from whichever button)."""
        if cmd == "cancel" and data.get("kept") and job_id == self.training.job_id:
            self.training.mark_kept()

    def export(self, args: dict[str, Any]) -> str:
        job_id = self.submit("export", args)
        self._exports[job_id] = dict(args)
        return job_id

    def exporting(self, sample_set: str | None, what: str | None = None) -> bool:
        """Whether an export of ``sample_set``'s ``what`` (None: the denoising) is on its way: a
        second click would write it twice."""
        return any(
            (args.get("sample_set"), args.get("what")) == (sample_set, what)
            and (job := self.jobs.jobs.get(jid)) is not None
            and job.active
            for jid, args in self._exports.items()
        )

    def replace_existing(self, job_id: str) -> str | None:
        """The person chose Replace for a refused export: send it again with ``overwrite``."""
        args = self._refused.pop(job_id, None)
        return self.export(dict(args, overwrite=True)) if args is not None else None

    def keep_existing(self, job_id: str) -> None:
        """The person chose to keep the files a refused export would have replaced."""
        if self._refused.pop(job_id, None) is not None:
            self.info.emit("Nothing was exported: the existing files were left as they were")

    def cancel_all(self) -> None:
        for job in self.jobs.active():
            self.control("cancel", job.id)

    def report_error(self, message: str) -> None:
        line = " ".join(str(message).split())  # one line, always
        self.last_error = line
        self.error.emit(line)

    # --- composite actions -----------------------------------------------------------------------
    def scan_paths(self, paths: list[str]) -> str:
        """A drop or a file dialog: scan these folders / files into a dataset (Data area)."""
        self.area_requested.emit("Data")
        return self.scan.start(paths)

    def finetune_from_drop(self, model_id: str, paths: list[str]) -> str:
        """A folder dropped on a model: scan it, then set up a fine-tune from that model, ready to start."""
        job = self.scan.start(paths, name=f"fine-tune data for {model_id}")
        self._finetune_scans.add(job)

        def ready(dataset_id: str | None) -> None:
            if dataset_id:
                self.training.setup_finetune(model_id, dataset_id)
                self.area_requested.emit("Train")
                self.info.emit(f"Fine-tune of {model_id} is set up on the dropped data; press Start")

        self.scan.on_dataset.append(ready)
        return job

    def open_model_folder(self, path: str) -> str:
        """Add a model folder (or a training run's folder) to the library where it is, then select
        it in the library and in Generate; a folder that is not a model is one line saying why."""

        def added(data: dict[str, Any]) -> None:
            done = P.ModelAdded.from_dict(data)
            self.library.select_when_listed("models", done.model)
            news = "Added" if done.added else "Already in the library:"
            self.info.emit(f"{news} {done.name} ({done.path})")

        return self.client.send(
            "add_model", {"path": path}, on_result=added, on_error=lambda e: self.report_error(e.message)
        )

    def use_dataset(self, dataset_id: str) -> None:
        self.training.dataset_id = dataset_id
        self.training.base_model = None
        self.training.config_changed.emit()

    # --- events ----------------------------------------------------------------------------------
    def _on_hello(self, hello: P.Hello) -> None:
        self.device = hello.device
        self.workspace = hello.workspace
        self.library.interrupted = list(hello.interrupted)
        self.engine_changed.emit(self.engine_state, self.device)
        self.library.refresh()
        if hello.interrupted:
            self.info.emit(
                f"{count(len(hello.interrupted), 'training run')} "
                f"{'was' if len(hello.interrupted) == 1 else 'were'} interrupted; resume from the Train area"
            )

    def _on_engine_state(self, state: str) -> None:
        self.engine_state = state
        self.engine_changed.emit(state, self.device)

    def _on_event(self, ev: P.Event) -> None:
        if ev.id in self._quiet and isinstance(ev, (P.Result, P.Error)):
            self._quiet.discard(ev.id)
            return
        self.jobs.handle(ev)
        owner = self._owners.get(ev.id or "")
        if owner is not None:
            owner.handle(ev)
        if isinstance(ev, P.Log) and ev.level == "warning":
            self.info.emit(ev.message)
        if isinstance(ev, P.Done):
            self._owners.pop(ev.id or "", None)
            self.generation.superseded.discard(str(ev.id))  # it ended before its cancel arrived
            ds = self.scan.report.dataset_id if owner is self.scan and self.scan.report else None
            if ds and not self.training.live and ev.id not in self._finetune_scans:
                self.use_dataset(str(ds))  # what was just scanned is what Train starts on
            if owner is self.training and isinstance(ev.results, dict) and ev.results.get("model"):
                self.generation.prefer_model(str(ev.results["model"]))  # what was just trained
            if ev.id in self._exports:
                self._exports.pop(ev.id)
                done = P.ExportDone.from_dict(ev.results)
                path, files = done.path, done.paths
                if files is not None and path:  # clips: one file each, into a folder
                    self.exported_to.emit(f"Exported {count(len(files), 'clip')} to {path}", path)
                elif path:
                    self.exported_to.emit(f"Exported {path}", str(Path(path).parent))
                else:
                    self.info.emit("Export done")
                self.generation.exported.emit(path)
            self.library.refresh()
        elif isinstance(ev, P.Error):
            self._owners.pop(ev.id or "", None)
            export_args = self._exports.pop(ev.id or "", None)
            existing = ev.data.get("existing") if isinstance(ev.data, dict) else None
            if export_args is not None and existing and not export_args.get("overwrite"):
                self._refused[str(ev.id)] = export_args
                self.info.emit(ev.message)  # what exists, also where nothing answers the question
                self.replace_asked.emit(str(ev.id), [str(p) for p in existing])
            elif ev.state != "cancelled":
                # a scan's failure in the window's words (ScanModel.handle), else the engine's
                self.report_error(self.scan.error if owner is self.scan and self.scan.error else ev.message)
            elif ev.id in self.generation.superseded:
                self.generation.superseded.discard(str(ev.id))  # replaced by a newer request: no news
            else:
                self.info.emit(ev.message)
