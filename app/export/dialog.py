"""File > Export video… (a settings dialog, then a progress dialog that renders one frame per
timer tick while a worker thread encodes, so the window stays responsive; Cancel leaves no
file behind) and File > Export data… (CSV)."""
from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMessageBox,
                               QProgressBar, QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from engine.scenario import ExportOptions, Scenario

from .data import write_race_csv
from .encoder import FORMATS, ExportError, get_format
from ..views.gl import gl_available
from .job import ExportJob, ExportSettings, settings_for

SIZES = (("1280 × 720 (HD)", (1280, 720)), ("1920 × 1080 (Full HD)", (1920, 1080)),
         ("3840 × 2160 (4K)", (3840, 2160)), ("Custom", None))
TICK_MS = 0  # render as fast as the encoder takes frames; events are handled between frames
WAIT_MS = 5  # the encoder's queue is full
POLL_MS = 50  # every frame is rendered; waiting for the file to be finished


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"


class ExportDialog(QDialog):
    """The export settings, prefilled from the scenario's export options; ``settings()`` gives
    the checked ExportSettings (or raises ExportError with what to change)."""

    def __init__(self, scenario: Scenario, path: str | Path = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export video")
        self.scenario = scenario
        e = scenario.export
        form = QFormLayout()

        self.format = QComboBox()
        for f in FORMATS:
            self.format.addItem(f.name, f.id)
        self.path = QLineEdit(str(path or Path.home() / "optirace.mp4"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("Format", self.format)
        form.addRow("File", row)

        self.size = QComboBox()
        for name, wh in SIZES:
            self.size.addItem(name, wh)
        self.width, self.height = QSpinBox(), QSpinBox()
        for box in (self.width, self.height):
            box.setRange(16, 7680)
        self.width.setValue(e.size[0])
        self.height.setValue(e.size[1])
        preset = next((i for i, (_, wh) in enumerate(SIZES) if wh == tuple(e.size)), len(SIZES) - 1)
        self.size.setCurrentIndex(preset)
        row = QHBoxLayout()
        row.addWidget(self.size, 1)
        row.addWidget(self.width)
        row.addWidget(QLabel("×"))
        row.addWidget(self.height)
        form.addRow("Resolution", row)

        self.fps = QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(e.fps)
        self.fps.setSuffix(" frames/s")
        form.addRow("Frame rate", self.fps)

        self.first, self.last = QSpinBox(), QSpinBox()
        for box in (self.first, self.last):
            box.setRange(0, 10_000_000)
            box.setGroupSeparatorShown(True)
        self.first.setValue(e.first)
        self.last.setValue(e.last)
        row = QHBoxLayout()
        row.addWidget(self.first)
        row.addWidget(QLabel("to"))
        row.addWidget(self.last)
        form.addRow("Steps", row)

        self.by_steps = QRadioButton("Steps per frame")
        self.by_duration = QRadioButton("Race lasts")
        group = QButtonGroup(self)
        group.addButton(self.by_steps)
        group.addButton(self.by_duration)
        self.by_steps.setChecked(True)
        self.spf = QSpinBox()
        self.spf.setRange(1, 100_000)
        self.spf.setValue(e.steps_per_frame)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.5, 3600.0)
        self.duration.setSuffix(" s")
        self.duration.setValue(10.0)
        row = QHBoxLayout()
        row.addWidget(self.by_steps)
        row.addWidget(self.spf)
        row.addSpacing(16)
        row.addWidget(self.by_duration)
        row.addWidget(self.duration)
        form.addRow("Pace", row)

        self.hold = QDoubleSpinBox()
        self.hold.setRange(0.0, 60.0)
        self.hold.setSingleStep(0.5)
        self.hold.setSuffix(" s")
        self.hold.setValue(e.hold_last)
        form.addRow("Hold last frame", self.hold)

        self.theme = QComboBox()
        self.theme.addItems(["dark", "light"])
        self.theme.setCurrentText(scenario.view.theme)
        form.addRow("Theme", self.theme)
        self.title = QLineEdit(scenario.title)
        self.title.setCursorPosition(0)
        self.title.setPlaceholderText("none")
        self.caption = QLineEdit(scenario.caption)
        self.caption.setCursorPosition(0)
        self.caption.setPlaceholderText("none")
        form.addRow("Title", self.title)
        form.addRow("Caption", self.caption)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.summary)
        lay.addWidget(self.buttons)

        self.format.currentIndexChanged.connect(self._format_changed)
        self.size.currentIndexChanged.connect(self._size_changed)
        for w in (self.width, self.height, self.fps, self.first, self.last, self.spf, self.hold):
            w.valueChanged.connect(self._update)
        self.duration.valueChanged.connect(self._update)
        self.by_steps.toggled.connect(self._update)
        self.path.textChanged.connect(self._update)
        fmt = Path(self.path.text()).suffix.lower()
        idx = next((i for i, f in enumerate(FORMATS) if f.suffix == fmt), 0)
        self.format.setCurrentIndex(idx)
        self._size_changed()

    # -- settings ---------------------------------------------------------------------------------
    def settings(self) -> ExportSettings:
        steps = self.by_steps.isChecked()
        return settings_for(
            self.scenario, self.path.text().strip(), format=self.format.currentData(),
            size=(self.width.value(), self.height.value()), fps=self.fps.value(), first=self.first.value(),
            last=self.last.value(), steps_per_frame=self.spf.value() if steps else None,
            duration=None if steps else self.duration.value(), theme=self.theme.currentText(),
            title=self.title.text(), caption=self.caption.text(), hold_last=self.hold.value())

    def export_options(self) -> ExportOptions:
        """The choices as the scenario's export options (to save with the scenario)."""
        s = self.settings()
        return ExportOptions(first=s.first, last=s.last, steps_per_frame=s.steps_per_frame, fps=s.fps,
                             size=s.size, hold_last=s.hold_last)

    def _format_changed(self) -> None:
        f = get_format(self.format.currentData())
        p = Path(self.path.text().strip() or "optirace")
        if f.suffix:
            self.path.setText(str(p.with_suffix(f.suffix)))
        elif p.suffix:
            self.path.setText(str(p.with_suffix("")))
        self._update()

    def _size_changed(self) -> None:
        wh = self.size.currentData()
        custom = wh is None
        self.width.setEnabled(custom)
        self.height.setEnabled(custom)
        if not custom:
            for box, v in ((self.width, wh[0]), (self.height, wh[1])):
                box.blockSignals(True)
                box.setValue(v)
                box.blockSignals(False)
        self._update()

    def _update(self) -> None:
        self.spf.setEnabled(self.by_steps.isChecked())
        self.duration.setEnabled(self.by_duration.isChecked())
        try:
            s = self.settings()
            if s.format.even_size and (s.size[0] % 2 or s.size[1] % 2):
                raise ExportError(f"{s.format.name} needs an even width and height")
        except ExportError as e:
            self.summary.setText(f"<span style='color:#D55E00'>{e}</span>")
            self.export_button.setEnabled(False)
            return
        note = ""
        if self.scenario.mode == "surface" and self.scenario.view.mode == "3d":
            ok, why = gl_available()
            note = ("<br>The video shows the 3-D view." if ok else
                    f"<br>{why}: the video shows the 2-D map of the same race (run under an X server for 3-D).")
        self.summary.setText(f"{s.n_frames} frames ({s.steps_per_frame} steps per frame), "
                             f"{_clock(s.duration)} of video at {s.size[0]} × {s.size[1]}{note}")
        self.export_button.setEnabled(True)

    def _browse(self) -> None:
        f = get_format(self.format.currentData())
        if f.suffix:
            path, _ = QFileDialog.getSaveFileName(self, "Export video", self.path.text(), f"{f.name} (*{f.suffix})")
        else:
            path = QFileDialog.getExistingDirectory(self, "Folder for the PNG frames (new or empty)",
                                                    str(Path(self.path.text()).parent))
        if path:
            self.path.setText(path)


class ExportProgress(QDialog):
    """Runs an ExportJob: one frame per timer tick on the GUI thread (the window keeps
    responding), encoding in the job's worker; frame count, time left and Cancel."""

    def __init__(self, job: ExportJob, parent: QWidget | None = None):
        super().__init__(parent)
        self.job = job
        self.path: Path | None = None
        self.error: str | None = None
        self.setWindowTitle("Exporting video")
        self.setModal(True)
        s = job.settings
        self.label = QLabel(f"Rendering {s.path.name}: {s.size[0]} × {s.size[1]}, {s.fps} frames/s")
        self.count = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, job.total)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        lay = QVBoxLayout(self)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.count)
        lay.addWidget(self.cancel_button, 0, Qt.AlignRight)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        try:
            self.job.start()
        except Exception as e:
            self._fail(e)
            return
        self.timer.start()

    def _tick(self) -> None:
        job = self.job
        try:
            if job.progress().finishing:
                if job.done:
                    self.timer.stop()
                    self.path = job.result()
                    self.accept()
                return
            if not job.writer_ready:
                # The encoder is behind: wait for it without blocking the window or spinning.
                self.timer.setInterval(WAIT_MS)
                return
            self.timer.setInterval(TICK_MS)
            if not job.step():
                job.finish()
                self.timer.setInterval(POLL_MS)
        except Exception as e:
            self._fail(e)
            return
        self._show(job.progress())

    def _show(self, pr) -> None:
        self.bar.setValue(pr.done)
        if pr.finishing:
            self.count.setText(f"All {pr.total} frames rendered; writing the file…")
            return
        left = f", about {_clock(pr.remaining)} left" if pr.remaining is not None else ""
        self.count.setText(f"Frame {pr.done} of {pr.total}{left}")

    def _fail(self, e: Exception) -> None:
        self.timer.stop()
        self.job.cancel()
        self.error = str(e) if isinstance(e, ExportError) else f"{type(e).__name__}: {e}"
        self.reject()

    def cancel(self) -> None:
        self.timer.stop()
        self.job.cancel()
        self.reject()

    def reject(self) -> None:
        if self.timer.isActive():
            self.cancel()  # Escape or closing the dialog cancels too
            return
        super().reject()


def export_video(parent: QWidget | None, scenario: Scenario, path: str | Path = "", selected: int = 0) -> Path | None:
    """File > Export video…: ask for the settings, export with progress; the file's path, or
    None when cancelled.  Errors are shown to the user, never raised.  ``selected``: the
    contender the lab's views follow (among the enabled ones)."""
    sc = copy.deepcopy(scenario)
    dialog = ExportDialog(sc, path, parent)
    while dialog.exec() == QDialog.Accepted:
        try:
            job = ExportJob(sc, dialog.settings(), selected=selected)
        except ExportError as e:
            QMessageBox.warning(dialog, "Export video", str(e))
            continue  # back to the settings, with what to change
        progress = ExportProgress(job, parent)
        progress.start()
        if progress.error is None:
            progress.exec()
        if progress.error is not None:
            QMessageBox.warning(parent, "Export video", f"The export failed: {progress.error}")
            return None
        return progress.path
    return None


def export_data(parent: QWidget | None, scenario: Scenario, last: int, path: str | Path = "") -> Path | None:
    """File > Export data…: the race up to step ``last`` as CSV; the path, or None."""
    if not path:
        path, _ = QFileDialog.getSaveFileName(parent, "Export data", str(Path.home() / "race.csv"),
                                              "CSV table (*.csv)")
        if not path:
            return None
    try:
        return write_race_csv(copy.deepcopy(scenario), path, last=last)
    except ExportError as e:
        QMessageBox.warning(parent, "Export data", str(e))
        return None
