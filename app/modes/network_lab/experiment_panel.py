"""The lab's Experiment panel: runs the scenario's ``[lab.experiment]`` (engine.experiments) in
the shared worker with progress and Cancel, then shows its figure, following the lab's step."""
from __future__ import annotations

import copy

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from engine import experiments as X
from engine.scenario import Scenario

from ...shell.worker import Cancelled, Worker
from ...theme import Theme
from .experiment_views import FunctionSpaceView, InitView, LandscapeView
from .session import contender_looks

PROGRESS_STEPS = 1000
WHAT = {"function_space": "Training the families and projecting their functions",
        "landscape": "Training the contenders and evaluating the loss on the plane",
        "init_compare": "Training the network under each initialiser"}


class ExperimentPanel(QWidget):
    """Hidden when the scenario has no experiment.  ``start(model)`` (re)computes it;
    ``set_step`` follows playback; ``wait`` blocks until the result is shown (a screenshot)."""

    shown = Signal(object)  # the engine's result, once drawn

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.worker: Worker | None = None
        self.result = None
        self.step = 0
        self._scenario: Scenario | None = None
        self._looks = ()
        self.views = {"function_space": FunctionSpaceView(theme), "landscape": LandscapeView(theme),
                      "init_compare": InitView(theme)}
        self.stack = QStackedWidget()
        for v in self.views.values():
            self.stack.addWidget(v)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, PROGRESS_STEPS)
        self.bar.setTextVisible(False)
        self.button = QPushButton("Cancel")
        self.button.clicked.connect(self._button)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 0, 0)
        lay.addWidget(self.heading)
        lay.addWidget(self.status)
        lay.addLayout(row)
        lay.addWidget(self.stack, 1)
        self.hide()

    @property
    def active(self) -> bool:
        return self._scenario is not None

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for v in self.views.values():
            v.set_theme(theme)

    def start(self, model) -> None:
        """Compute the model's experiment afresh (nothing to do, and hidden, without one)."""
        self.stop()
        sc = model.scenario
        self.result = None
        if sc.mode != "lab" or sc.lab.experiment is None:
            self._scenario = None
            self.hide()
            return
        self._scenario = copy.deepcopy(sc)
        self._looks = contender_looks(self._scenario)
        self.show()
        self._run()

    def _run(self) -> None:
        sc = self._scenario
        kind = sc.lab.experiment.kind
        self.stack.setCurrentWidget(self.views[kind])

        def task(job):
            def progress(f: float) -> bool:
                job.progress(round(f * PROGRESS_STEPS), PROGRESS_STEPS)
                return not job.cancelled
            try:
                return X.run(sc, progress)
            except X.Cancelled:
                raise Cancelled from None

        self.worker = w = Worker(task, name="experiment", parent=self, errors=(ValueError,))
        w.progress.connect(self._progress)  # a method of this widget: queued to the GUI thread
        w.finished.connect(self._finished)
        w.failed.connect(lambda msg: self._ended(f"The experiment failed: {msg}", "Run again"))
        w.cancelled.connect(lambda: self._ended("Cancelled: the lab goes on; press Run to compute the experiment.",
                                                "Run"))
        self.status.setText(WHAT[kind] + "…")
        self.heading.setText("")
        self.bar.setValue(0)
        self.bar.show()
        self.button.setText("Cancel")
        self.button.show()
        w.start()

    def _progress(self, done: int, _total: int) -> None:
        self.bar.setValue(done)

    def _button(self) -> None:
        if self.worker is not None and self.worker.running:
            self.worker.cancel()
        elif self._scenario is not None:
            self._run()

    def _ended(self, text: str, button: str) -> None:
        self.worker = None
        self.status.setText(text)
        self.bar.hide()
        self.button.setText(button)

    def _finished(self, result) -> None:
        self.worker = None
        self.result = result
        kind = self._scenario.lab.experiment.kind
        view = self.views[kind]
        if kind == "landscape":
            view.set_result(result, self._looks)
        else:
            view.set_result(result)
        self.set_step(self.step)
        self.status.setText(self._summary(result))
        self.bar.hide()
        self.button.hide()
        self.shown.emit(result)

    def _summary(self, res) -> str:
        if isinstance(res, X.FunctionSpace):
            acc = ", ".join(f"{n} {100 * res.accuracy[res.family == f, -1].mean():.0f}%" for f, n in enumerate(res.names))
            return f"Validation accuracy at the end: {acc}. Hover a point to name its network."
        if isinstance(res, X.Landscape):
            return "Paths projected onto the plane; beside it, each one's distance from the plane."
        skipped = "; ".join(f"{i} left out: {why}" for i, why in res.skipped)
        return "Step 0 statistics per layer and validation loss per initialiser." + (f" {skipped}." if skipped else "")

    def set_step(self, step: int) -> None:
        self.step = int(step)
        if self.result is not None and self._scenario is not None:
            view = self.views[self._scenario.lab.experiment.kind]
            view.set_step(self.step)
            self.heading.setText(view.heading)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running experiment has ended and its result is drawn."""
        w = self.worker
        if w is None:
            return
        w.wait(timeout)
        while self.worker is w and not w.running:
            QCoreApplication.processEvents()
        self.layout().activate()  # the new texts' heights, before the picture is taken
        QCoreApplication.processEvents()

    def stop(self) -> None:
        """Cancel the running experiment without waiting (its thread ends unseen at its next
        progress check)."""
        if self.worker is not None:
            self.worker.abandon()
            self.worker = None

    def shutdown(self) -> None:
        """Cancel the running experiment and wait for its thread (it checks for Cancel at
        every record, grid block and pre-trained member)."""
        w = self.worker
        if w is not None:
            w.cancel()
            w.wait()
            self.stop()
