"""The network lab as a video: a frame source that trains the lab synchronously, step by step
(no worker: the same scenario gives the same frames, whatever the machine's speed), and a canvas
of the lab's own views (what the selected contender has learned, its gradient flow, its dropout
masks, the leaderboard, the validation loss and accuracy) under the lesson's title and caption."""
from __future__ import annotations

import copy

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout

from engine.lab import LabError
from engine.scenario import Scenario

from ...export.canvas import CanvasBase
from ...export.encoder import ExportError
from ...export.render import SessionFrameSource
from ...theme import Theme
from ...views.curves import CurvePlot
from ...views.leaderboard import Leaderboard
from .feeds import show_board, show_curves
from .mode import COLUMNS
from .session import LabFrame, LabSession
from .views import GradientFlowView, MasksView, OutputView


class LabFrameSource(SessionFrameSource):
    """The LabFrames the window would show at given steps, over a LabSession that trains in
    this thread (it never starts its worker), so the network's output is taken at every
    frame's step exactly.  Works on a copy of the scenario."""

    def __init__(self, scenario: Scenario, selected: int = 0):
        from ...model import ScenarioModel

        sc = copy.deepcopy(scenario)
        if not sc.lab.enabled_contenders():
            raise ExportError("nothing to export: the lab has no enabled contender")
        model = ScenarioModel(sc)
        try:
            session = LabSession(sc, selected=selected)
        except LabError as e:
            model.deleteLater()
            raise ExportError(str(e)) from None
        super().__init__(model, session)

    def close(self) -> None:
        self.session.shutdown()
        super().close()


class LabCanvas(CanvasBase):
    """Title; the selected contender's output over the data and its gradient flow; on the
    right the leaderboard, the dropout masks (when the network has dropout), the validation
    loss and accuracy; caption."""

    @classmethod
    def for_scenario(cls, scenario: Scenario, theme: Theme, size, title: str, caption: str) -> "LabCanvas":
        return cls(theme, size, title, caption, dropout=any(p > 0 for p in scenario.lab.dropout))

    def __init__(self, theme: Theme, size: tuple[int, int], title: str = "", caption: str = "",
                 dropout: bool = False):
        super().__init__(theme, size, title, caption, dropout=dropout)

    def _body(self, dropout: bool) -> QHBoxLayout:
        t = self.theme
        self.output = OutputView(t)
        self.flow = GradientFlowView(t)
        self.board = Leaderboard(t, COLUMNS, status_steps=True)
        self.masks = MasksView(t) if dropout else None
        self.val_plot = CurvePlot(t)
        self.acc_plot = CurvePlot(t)
        self.val_plot.set_axis("val loss  (log)", "Validation loss of every contender, log scale", "log")
        self.acc_plot.set_axis("val accuracy", "Validation accuracy of every contender", "linear")
        row = QHBoxLayout()
        row.setSpacing(14)
        row.addWidget(self.output, 4)
        row.addWidget(self.flow, 4)
        side = QVBoxLayout()
        side.setSpacing(10)
        # The leaderboard needs a row per contender; the masks their note and a grid each.
        for w, share in ((self.board, 2), (self.masks, 4), (self.val_plot, 3), (self.acc_plot, 3)):
            if w is not None:
                side.addWidget(w, share)
        row.addLayout(side, 3)
        return row

    def _cached_plots(self) -> list:
        return [self.output.getPlotItem(), self.val_plot.getPlotItem(), self.acc_plot.getPlotItem(),
                self.flow.lines, self.flow.bars_plot, self.flow.heat_plot]

    def set_frame(self, f: LabFrame) -> None:
        self.output.set_frame(f)
        self.flow.set_frame(f)
        if self.masks is not None:
            self.masks.set_frame(f)
        show_board(self.board, f)
        show_curves([(self.val_plot, "val_loss"), (self.acc_plot, "val_acc")], f)
        # New titles and texts change the plots' layouts; the window lays them out in a later
        # event, the frame is rendered now: lay them out first (else titles sit over the data).
        QCoreApplication.sendPostedEvents(None, QEvent.LayoutRequest)
