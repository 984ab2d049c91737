"""The network lab mode: what the selected contender has learned and its gradient flow in the
centre; setup and contenders on the left; leaderboard, dropout masks and the loss and accuracy
curves on the right.  Any change of the setup rebuilds the lab and restarts it from step 0."""
from __future__ import annotations

import csv
from contextlib import contextmanager

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QSizePolicy, QSplitter, QWidget

from engine.lab import LabError

from ...model import LabContenders
from ...panels.racers import RacersPanel
from ...views.curves import CurvePlot
from ...views.leaderboard import Column, Leaderboard, count, number
from ..base import DockSpec, Mode, scrolled
from .experiment_panel import ExperimentPanel
from .feeds import show_board, show_curves
from .inside import InsideViews
from .session import CHECK_EVERY, LabFrame, LabSession
from .setup_panel import SetupPanel
from .views import GradientFlowView, MasksView, OutputView

COLUMNS = (
    Column("val loss", number, "1.23e-04", sort=lambda v: v, tip="Loss on the validation examples (latest check)"),
    Column("val acc", lambda v: f"{100 * v:.1f}%", "100.0%", tip="Accuracy on the validation examples"),
    Column("step", count, "1,000,000", essential=False,
           tip="The step reached while training, else the step at which the network stopped"),
)


class NetworkLabMode(Mode):
    id = "lab"
    title = "Network lab"
    menu_title = "&Train"
    # Projector mode keeps the decision boundary, the gradient flow, the masks, the leaderboard
    # and the validation loss (the accuracy is in the leaderboard) on a 1280x720 screen.
    presentation_hides = ("setup", "contenders", "train_loss", "accuracy")
    status_tip = "Space: play / pause   ←/→: step   R: reset   click a leaderboard row: inspect that network"

    def __init__(self, shell):
        super().__init__(shell)
        theme = shell.theme
        self.session: LabSession | None = None
        self._generation = 0
        self._frames = 0
        self._laid_dropout = False
        self.contenders = LabContenders(self.model)
        self.output_view = OutputView(theme)
        self.flow_view = GradientFlowView(theme)
        self.centre_split = QSplitter(Qt.Horizontal)
        self.centre_split.addWidget(self.output_view)
        self.centre_split.addWidget(self.flow_view)
        for w in (self.output_view, self.flow_view):
            # Long plot titles must not widen the centre past the window (it was clipped).
            w.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Expanding)
            w.setMinimumWidth(200)
        self.experiment = ExperimentPanel(theme)  # hidden unless the scenario has a [lab.experiment]
        self.centre_split.addWidget(self.experiment)
        self.centre_split.setSizes([500, 600, 0])
        self.masks_view = MasksView(theme)
        self.leaderboard = Leaderboard(theme, COLUMNS)
        self.leaderboard.racer_selected.connect(self._select_enabled)
        self.val_plot = CurvePlot(theme)
        self.acc_plot = CurvePlot(theme)
        self.train_plot = CurvePlot(theme)
        self.val_plot.set_axis("val loss  (log)", "Validation loss of every contender, log scale", "log")
        self.acc_plot.set_axis("val accuracy", "Validation accuracy of every contender", "linear")
        self.train_plot.set_axis("batch loss  (log)", "Mini-batch training loss of every contender", "log")
        self.setup_panel = SetupPanel(self.model)
        self.racers_panel = RacersPanel(self.contenders, extras=False)
        self.inside = InsideViews(self.model, theme)
        self.model.lab_changed.connect(self.rebuild)
        self.contenders.view_changed.connect(self._contender_selected)

    # -- layout ---------------------------------------------------------------------------------
    def centre(self) -> QWidget:
        return self.centre_split

    def docks(self) -> list[DockSpec]:
        left, right = Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea
        return [DockSpec("setup", "Setup", scrolled(self.setup_panel), left),
                DockSpec("contenders", "Contenders", scrolled(self.racers_panel), left, tab_with="setup"),
                DockSpec("leaderboard", "Leaderboard", self.leaderboard, right),
                DockSpec("masks", "Dropout masks", self.masks_view, right),
                DockSpec("val_loss", "Validation loss", self.val_plot, right),
                DockSpec("train_loss", "Training loss", self.train_plot, right, tab_with="val_loss"),
                DockSpec("accuracy", "Accuracy", self.acc_plot, right), *self.inside.docks("contenders")]

    def layout_docks(self, w: int, h: int) -> None:
        """The right column as wide as the leaderboard's essential columns (status included)
        need, up to 0.42 of the window; its heights from the fonts: the leaderboard its rows, the
        masks a line of text (no dropout) or a line and the mask grids, the curves the rest."""
        docks, theme = self.shell.docks, self.shell.theme
        self._laid_dropout = self._has_dropout()
        right = min(max(int(0.28 * w), self.leaderboard.essential_width(theme)), int(0.42 * w))
        self.shell.resizeDocks([docks["setup"], docks["leaderboard"]], [int(0.2 * w), right], Qt.Horizontal)
        # Projector mode: the gradient flow (four plots) gets the larger share of the centre;
        # the output, a square plane, needs less.
        self.centre_split.setSizes(([450, 600] if self.model.scenario.view.projector else [500, 600])
                                   if not self.experiment.active else [220, 0, 1000])
        line = int(theme.font_pt * 2.4)  # a table row or a line of text, in pixels (about)
        rows = max(len(self.contenders.enabled_indices()), 2)
        sizes = {"leaderboard": int(min(0.3 * h, (rows + 1.6) * line)),
                 "masks": int(min(0.4 * h, 2 * line + 15 * theme.axis_pt)) if self._has_dropout() else 2 * line}
        curves = [k for k in ("val_loss", "accuracy") if docks[k].isVisible()]
        rest = max(h - sum(sizes.values()) - 120, 160)
        sizes.update({k: rest // max(len(curves), 1) for k in curves})
        keys = [k for k in sizes if docks[k].isVisible()]
        if keys:
            self.shell.resizeDocks([docks[k] for k in keys], [sizes[k] for k in keys], Qt.Vertical)
        docks["setup"].raise_()
        docks["val_loss"].raise_()
        self.inside.arrange(self.shell, w)

    def _has_dropout(self) -> bool:
        return any(p > 0 for p in self.model.scenario.lab.dropout or ())

    # -- the lab ------------------------------------------------------------------------------
    def start(self) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        """A fresh lab from the scenario, from step 0 (keeps playing if it was)."""
        if not self.shell.ready:
            return
        playing = self.shell.controller.playing
        self._stop_session()
        self._generation += 1
        try:
            self.session = LabSession(self.model, self._generation, self._enabled_selected())
        except LabError as e:
            self.session = None
            self.setup_panel.show_problem(str(e))
            self.shell.controller.set_session(None)
            self.inside.set_session(None)
            return
        self.setup_panel.show_problem("")
        self.inside.set_session(self.session)
        if self._has_dropout() != self._laid_dropout:  # the masks dock needs another height
            self._laid_dropout = self._has_dropout()
            self.shell.layout_docks()
        self.shell.controller.set_session(self.session)
        had = self.experiment.active
        self.experiment.start(self.model)
        if had != self.experiment.active:
            self.shell.layout_docks()  # the centre's shares change with the experiment
        if playing:
            self.on_playing_changed(True)

    def _stop_session(self) -> None:
        if self.session is not None:
            self.session.shutdown()

    def _enabled_selected(self) -> int:
        idx = self.contenders.enabled_indices()
        sel = self.contenders.selected_racer()
        return idx.index(sel) if sel in idx else 0

    def _select_enabled(self, r: int) -> None:
        idx = self.contenders.enabled_indices()
        if 0 <= r < len(idx):
            self.contenders.select_racer(idx[r])

    def _contender_selected(self, _name: str) -> None:
        if self.session is not None:
            self.session.select(self._enabled_selected())
            f = self.shell.controller.frame
            if f is not None:
                self.shell.controller.seek(f.step)

    def on_playing_changed(self, playing: bool) -> None:
        s = self.session
        if s is None:
            return
        if playing and self.shell.controller.playing:
            s.start_worker(self)
        else:
            s.stop_worker()
            if self.shell.controller.frame is not None:
                self.on_frame(self.shell.controller.frame)

    def on_frame(self, frame: LabFrame) -> None:
        self._frames += 1
        if self.session is not None:
            self.session.ahead = max(200, 10 * self.shell.controller.steps_per_frame)
        playing = self.shell.controller.playing
        n = self._frames
        # While playing the views take turns (each redraw costs a few ms); paused, all at once.
        self.output_view.set_frame(frame)
        self.experiment.set_step(frame.step)
        if not playing or n % 2 == 0:
            self.flow_view.set_frame(frame)
        if not playing or n % 3 == 0:
            self.masks_view.set_frame(frame)
        if not playing or n % 3 == 1:
            show_board(self.leaderboard, frame)
        if not playing or n % 6 == 2:
            show_curves([(self.train_plot, "loss"), (self.val_plot, "val_loss"), (self.acc_plot, "val_acc")], frame)
        self.inside.set_frame(frame, playing)

    # -- view settings ------------------------------------------------------------------------
    def themed(self) -> list:
        return [self.output_view, self.flow_view, self.masks_view, self.leaderboard, self.val_plot, self.acc_plot,
                self.train_plot, self.experiment, *self.inside.themed()]

    def frozen_while_relayout(self) -> list[QWidget]:
        return [self.val_plot, self.acc_plot, self.train_plot]

    @contextmanager
    def for_picture(self):
        self.experiment.wait()  # a screenshot shows the experiment's figure, not its progress bar
        with self.inside.for_picture():
            yield

    # -- files and exports --------------------------------------------------------------------

    def write_image(self, path: str) -> bool:
        return self.shell.grab().save(path)

    def export_video(self) -> None:
        from ...export.dialog import export_video

        self.shell.controller.pause()
        path = export_video(self.shell, self.model.snapshot(), selected=self._enabled_selected())
        if path:
            self.shell.statusBar().showMessage(f"Exported {path}", 8000)

    def export_data(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.shell, "Export data", "lab.csv", "CSV (*.csv)")
        if path:
            self.write_csv(path)

    def write_csv(self, path: str) -> None:
        """One row per contender and check: step, validation loss and accuracy, and each
        layer's gradient norm."""
        s = self.session
        if s is None:
            return
        n = s.checks.count_upto(s.computed // CHECK_EVERY)
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["contender", "step", "val_loss", "val_acc", *(f"grad_norm_{name}" for name in s.layers)])
            for r, look in enumerate(s.looks):
                for i in range(n):
                    w.writerow([look.name, int(s.checks.steps[i]) * CHECK_EVERY, s.checks["val_loss"][r, i],
                                s.checks["val_acc"][r, i], *s.checks["gnorm"][r, i]])

    def shutdown(self) -> None:
        # A mode switched away from must not rebuild a lab on later edits (it did, beside the new one).
        try:
            self.model.lab_changed.disconnect(self.rebuild)
        except (RuntimeError, TypeError):
            pass
        self.inside.shutdown()
        self.experiment.shutdown()
        self._stop_session()
