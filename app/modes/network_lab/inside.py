"""Inside the network: the lab's docks that show the network itself (the gradient check), fed
by the mode through a handful of hooks so that the mode's own code stays as it was."""
from __future__ import annotations

from contextlib import contextmanager

from PySide6.QtCore import Qt

from ..base import DockSpec
from .diagram import DiagramView
from .distributions import DistributionsView
from .gradcheck_view import GradCheckView


FRONT_WIDTH = 0.3  # of the window: the left column when a view of this module is in front
INSIDE_DOCKS = {"gradcheck": "Gradient check", "diagram": "Network", "distributions": "Distributions"}


class InsideViews:
    """The views and their docks, tabbed with the setup on the left: the full height of the
    window, and what a lesson needs least."""

    def __init__(self, model, theme):
        self.model = model
        self.gradcheck = GradCheckView(theme)
        self.gradcheck.mistake_changed.connect(self._record_mistake)
        self.diagram = DiagramView(theme)
        self.distributions = DistributionsView(theme)
        self.keys = tuple(INSIDE_DOCKS)
        self._folded: set[str] = set()  # docks projector mode hid (shown again when it ends)

    @staticmethod
    def docks(holders: dict, tab_with: str) -> list[DockSpec]:
        """The docks, each holding ``holders[key]`` (the mode fills them with :meth:`views` once
        it has made them)."""
        left, tab = Qt.LeftDockWidgetArea, tab_with
        specs = []
        for key, title in INSIDE_DOCKS.items():
            specs.append(DockSpec(key, title, holders[key], left, tab_with=tab))
            tab = key
        return specs

    def views(self) -> dict:
        return {"gradcheck": self.gradcheck, "diagram": self.diagram, "distributions": self.distributions}

    def themed(self) -> list:
        return [self.gradcheck, self.diagram, self.distributions]

    def set_session(self, session) -> None:
        lab = self.model.scenario.lab
        self.gradcheck.set_session(session, lab.gradcheck_mistake, lab.gradcheck_layer)
        self.diagram.set_session(session)
        self.distributions.set_session(session, lab)

    def set_frame(self, frame, playing: bool) -> None:
        self.gradcheck.set_frame(frame, playing)
        self.diagram.set_frame(frame, playing)
        self.distributions.set_frame(frame, playing)

    def arrange(self, shell, w: int) -> None:
        """After the mode's own layout: a lab whose scenario breaks backprop (the gradient_check
        lesson) opens on the check, its column widened for the table and the sweep; projector
        mode folds these docks away otherwise (they would take the room the setup gave back)."""
        broken = bool(self.model.scenario.lab.gradcheck_mistake)
        fold = self.model.scenario.view.projector and not broken
        for key in self.keys:
            d = shell.docks[key]
            if fold and not d.isHidden():
                d.hide()
                self._folded.add(key)
            elif not fold and key in self._folded:
                d.show()
                self._folded.discard(key)
        if broken:
            shell.docks["gradcheck"].raise_()
            shell.resizeDocks([shell.docks["gradcheck"]], [int(FRONT_WIDTH * w)], Qt.Horizontal)

    def _record_mistake(self, mistake: str, layer: int) -> None:
        self.model.set_lab("gradcheck_mistake", mistake)
        self.model.set_lab("gradcheck_layer", layer)

    @contextmanager
    def for_picture(self):
        """The checks under way finished and drawn before a picture is taken."""
        self.gradcheck.settle()
        self.diagram.settle()
        self.distributions.settle()
        yield

    def shutdown(self) -> None:
        self.gradcheck.shutdown()
        self.diagram.shutdown()
        self.distributions.shutdown()
