"""The network lab mode: what the selected contender has learned and its gradient flow in the
centre; setup and contenders on the left; leaderboard, dropout masks and the loss and accuracy
curves on the right.  Any change of the setup rebuilds the lab and restarts it from step 0."""
from __future__ import annotations

import csv
from contextlib import contextmanager

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QLabel, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from engine.lab import LabError

from ...model import LabContenders
from ...panels.racers import RacersPanel
from ...shell.worker import Worker
from ...views.curves import CurvePlot
from ...views.leaderboard import Column, Leaderboard, count, number
from ..base import NARROW_PX, DockSpec, Mode, scrolled
from .experiment_panel import ExperimentPanel
from .feeds import show_board, show_curves
from .inside import INSIDE_DOCKS, InsideViews
from .session import CHECK_EVERY, LabFrame, LabSession
from .setup_panel import SetupPanel
from .views import GradientFlowView, MasksView, OutputView

# Optional columns go first to last as the board narrows: the step first, then the validation
# loss (at 1280x720 in projector mode; the plot under the board shows it, the centre gets the room).
COLUMNS = (
    Column("step", count, "1,000,000", essential=False,
           tip="The step reached while training, else the step at which the network stopped"),
    Column("val loss", number, "1.23e-04", sort=lambda v: v, essential=False,
           tip="Loss on the validation examples (latest check)"),
    Column("val acc", lambda v: f"{100 * v:.1f}%", "100.0%", tip="Accuracy on the validation examples"),
)


# Between two steps of making the views or drawing a new lab's first frame: a frame, so the
# window repaints in between (Qt throttles repaints to the screen's refresh, ~16 ms; steps 1 ms
# apart all landed before one repaint, which then painted them all at once).
TURN_MS = 20


class Slot(QWidget):
    """Where a view goes once it is made; a quiet line of text until then."""

    def __init__(self):
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.placeholder = QLabel("")
        self.placeholder.setAlignment(Qt.AlignCenter)
        lay.addWidget(self.placeholder)

    def fill(self, view: QWidget) -> None:
        if self.placeholder is not None:
            self.layout().removeWidget(self.placeholder)
            self.placeholder.deleteLater()
            self.placeholder = None
        self.layout().addWidget(view)


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
        self.session: LabSession | None = None
        self._generation = 0
        self._built_gen = 0  # the generation shown (its session, or its problem)
        self._drawn_gen = 0  # the generation whose first frame the views have drawn (or are drawing)
        self._pending = 0  # views still to draw the frame shown
        self._chain = 0  # the latest chain of draws in turns
        self._frames = 0
        self._laid_dropout = False
        self._narrow_folded: set[str] = set()  # docks a narrow projector folded away
        self.contenders = LabContenders(self.model)
        # The views go into these slots as they are made: a mode switched to in a window on
        # screen makes them one per event-loop turn (together they held the window ~150 ms).
        self.slots = {k: Slot() for k in ("setup", "contenders", "output", "flow", "leaderboard", "masks",
                                          "val_loss", "train_loss", "accuracy", *INSIDE_DOCKS)}
        self.centre_split = QSplitter(Qt.Horizontal)
        for k in ("output", "flow"):
            self.centre_split.addWidget(self.slots[k])
            # Long plot titles must not widen the centre past the window (it was clipped).
            self.slots[k].setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Expanding)
            self.slots[k].setMinimumWidth(200)
        self.experiment = ExperimentPanel(shell.theme)  # hidden unless the scenario has a [lab.experiment]
        self.centre_split.addWidget(self.experiment)
        self.centre_split.setSizes([500, 600, 0])
        self.slots["output"].placeholder.setText("Building the Network lab…")
        self.leaderboard = Leaderboard(shell.theme, COLUMNS, status_steps=True)
        self.leaderboard.racer_selected.connect(self._select_enabled)
        self.slots["leaderboard"].fill(self.leaderboard)
        self.model.lab_changed.connect(self.rebuild)
        self.contenders.view_changed.connect(self._contender_selected)
        self._retired: list[LabSession] = []  # stopped sessions whose worker may still end its chunk
        self._builds: list[Worker] = []
        self.built = False
        self._shut = False
        self._stages = self._build_views()
        if shell.isVisible():
            QTimer.singleShot(TURN_MS, self, self._build_next)
        else:  # at start-up, under the warm-up: all at once
            self.finish_building()

    def _build_views(self):
        """The views, one step at a time (each ~10 ms of the GUI thread and its first paint)."""
        theme = lambda: self.shell.theme  # noqa: E731 (a theme switched to meanwhile holds)
        self.setup_panel = SetupPanel(self.model)
        self.slots["setup"].fill(self.setup_panel)
        yield
        self.racers_panel = RacersPanel(self.contenders, extras=False)
        self.slots["contenders"].fill(self.racers_panel)
        yield
        self.output_view = OutputView(theme())
        self.slots["output"].fill(self.output_view)
        yield
        self.flow_view = GradientFlowView(theme(), staged=True)
        yield
        while not self.flow_view.build(one=True):
            yield
        self.slots["flow"].fill(self.flow_view)
        yield
        self.masks_view = MasksView(theme())
        self.slots["masks"].fill(self.masks_view)
        yield
        for key, attr, label, tip, scale in (
                # Short value labels: the docks' titles say what (a projector's short plot cut longer ones).
                ("val_loss", "val_plot", "log", "Validation loss of every contender, log scale", "log"),
                ("accuracy", "acc_plot", "val accuracy", "Validation accuracy of every contender", "linear"),
                ("train_loss", "train_plot", "log", "Mini-batch training loss of every contender", "log")):
            plot = CurvePlot(theme())
            plot.set_axis(label, tip, scale)
            setattr(self, attr, plot)
            self.slots[key].fill(plot)
            yield
        self.inside = InsideViews(self.model, theme())
        for key, view in self.inside.views().items():
            self.slots[key].fill(view)
        yield
        self.built = True

    @property
    def shown(self) -> bool:
        """The views are made and show the session of the latest setup, all of them drawn with
        the frame shown (or its problem is stated)."""
        s = self.session
        return (self.built and self._built_gen == self._generation > 0 and not self._pending
                and (s is None or s.generation == self._generation == self._drawn_gen))

    def _build_next(self) -> None:
        if self.built or self._shut:  # (a mode switched away from before it was made)
            return
        next(self._stages, None)
        if not self.built:
            QTimer.singleShot(TURN_MS, self, self._build_next)
            return
        self.shell.layout_docks()
        self.start()

    def finish_building(self) -> None:
        """Make the views not made yet, now (a picture of the mode needs them all)."""
        if not self.built:
            for _ in self._stages:
                pass
            if self.shell.isVisible():
                self.shell.layout_docks()
                self.start()

    # -- layout ---------------------------------------------------------------------------------
    def centre(self) -> QWidget:
        return self.centre_split

    def docks(self) -> list[DockSpec]:
        left, right = Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea
        slot = self.slots
        return [DockSpec("setup", "Setup", scrolled(slot["setup"]), left),
                DockSpec("contenders", "Contenders", scrolled(slot["contenders"]), left, tab_with="setup"),
                DockSpec("leaderboard", "Leaderboard", slot["leaderboard"], right),
                DockSpec("masks", "Dropout masks", slot["masks"], right),
                DockSpec("val_loss", "Validation loss", slot["val_loss"], right),
                DockSpec("train_loss", "Training loss", slot["train_loss"], right, tab_with="val_loss"),
                DockSpec("accuracy", "Accuracy", slot["accuracy"], right),
                *InsideViews.docks(slot, tab_with="contenders")]

    def layout_docks(self, w: int, h: int) -> None:
        """The right column as wide as the leaderboard's essential columns (status included)
        need, up to 0.42 of the window (0.34 in projector mode); its heights from the fonts: the
        leaderboard its rows, the masks a line of text (no dropout) or a line and the mask grids,
        the curves the rest."""
        docks, theme = self.shell.docks, self.shell.theme
        self._laid_dropout = self._has_dropout()
        projector = self.model.scenario.view.projector
        # A narrow projector (1024 px at 24 pt) has room for the centre and the board only: the
        # masks (when there are none) and the validation loss fold away, and come back with room.
        narrow = projector and w < NARROW_PX
        for key in ("masks", "val_loss"):
            fold, d = narrow and (key != "masks" or not self._has_dropout()), docks[key]
            if fold and not d.isHidden():
                d.hide()
                self._narrow_folded.add(key)
            elif not fold and key in self._narrow_folded:
                d.show()
                self._narrow_folded.discard(key)
        # Projector mode caps the column lower: the centre (decision boundary and gradient
        # flow, under the lesson's caption) is what the back row reads; the board's racer names
        # give way first (elided, their markers and colours still tell them apart).
        cap = 0.26 if narrow else 0.34 if projector else 0.42
        right = min(max(int(0.26 * w), self.leaderboard.essential_width(theme)), int(cap * w))
        self.shell.resizeDocks([docks["setup"], docks["leaderboard"]], [int(0.2 * w), right], Qt.Horizontal)
        # Projector mode: the gradient flow (four plots) gets the larger share of the centre;
        # the output, a square plane, needs less.
        self.centre_split.setSizes(([550, 450] if narrow else [450, 600] if projector else [500, 600])
                                   if not self.experiment.active else [220, 0, 1000])
        # Short, the accuracy plot is a tab beside the losses (one under the other, each was a
        # sliver at 1280x720 with the masks shown; the board has the accuracy too).
        tabbed = h < 820
        if tabbed != (docks["accuracy"] in self.shell.tabifiedDockWidgets(docks["val_loss"])):
            if tabbed:
                self.shell.tabifyDockWidget(docks["val_loss"], docks["accuracy"])
                docks["val_loss"].raise_()  # the shown tab gets the height below
            else:
                self.shell.splitDockWidget(docks["val_loss"], docks["accuracy"], Qt.Vertical)
        line = int(theme.font_pt * 2.4)  # a table row or a line of text, in pixels (about)
        rows = max(len(self.contenders.enabled_indices()), 2)
        # Rows, the header and the dock's title bar (with 1.6 the last row was cut).
        sizes = {"leaderboard": int(min(0.36 * h, (rows + 2.5) * line)),
                 "masks": int(min(0.4 * h, 2 * line + 15 * theme.axis_pt)) if self._has_dropout() else 2 * line}
        curves = [k for k in ("val_loss", "accuracy") if docks[k].isVisible() and not (k == "accuracy" and tabbed)]
        rest = max(h - sum(sizes.values()) - 120, 160)
        sizes.update({k: rest // max(len(curves), 1) for k in curves})
        keys = [k for k in sizes if docks[k].isVisible()]
        if keys:
            self.shell.resizeDocks([docks[k] for k in keys], [sizes[k] for k in keys], Qt.Vertical)
        docks["setup"].raise_()
        docks["val_loss"].raise_()
        if self.built:
            self.inside.arrange(self.shell, w)

    def _has_dropout(self) -> bool:
        lab = self.model.scenario.lab
        return any(p > 0 for p in lab.dropout or ()) or lab.dropconnect > 0

    # -- the lab ------------------------------------------------------------------------------
    def start(self) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        """A fresh lab from the scenario, from step 0 (keeps playing if it was).  Made in a
        worker from a copy of the scenario when the window is on screen (a new activation
        may compile kernels first); before that, at start-up, here."""
        if not (self.shell.ready and self.built) or self._shut:  # the last build step starts it
            return
        self._retire_session()
        self._generation += 1
        gen, scenario, selected = self._generation, self.model.snapshot(), self._enabled_selected()
        if not self.shell.isVisible():
            try:
                session = LabSession(scenario, gen, selected)
            except LabError as e:
                self._failed(str(e), gen)
                return
            self._arrived(session, gen)
            return
        worker = Worker(lambda job: LabSession(scenario, gen, selected), "lab-build", self, errors=(LabError,))
        worker.finished.connect(lambda session: self._arrived(session, gen))
        worker.failed.connect(lambda message: self._failed(message, gen))
        self._builds = [w for w in self._builds if w.running] + [worker]
        worker.start()

    def _arrived(self, session: LabSession, gen: int) -> None:
        if gen != self._generation:  # a later edit superseded it
            session.shutdown()
            return
        self._built_gen = gen
        self.session = session
        if session.selected != self._enabled_selected():  # chosen while it was built (a loaded lesson's)
            session.select(self._enabled_selected())
        self.setup_panel.show_problem("")
        self.inside.set_session(session)
        if self._has_dropout() != self._laid_dropout:  # the masks dock needs another height
            self._laid_dropout = self._has_dropout()
            self.shell.layout_docks()
        self.shell.controller.set_session(session)
        had = self.experiment.active
        self.experiment.start(self.model)
        if had != self.experiment.active:
            self.shell.layout_docks()  # the centre's shares change with the experiment
        if self.shell.controller.playing:
            self.on_playing_changed(True)

    def _failed(self, message: str, gen: int) -> None:
        if gen == self._generation:
            self._built_gen = gen
            self.setup_panel.show_problem(message)
            self.inside.set_session(None)
    
    def _retire_session(self) -> None:
        """The shown session stops (its worker ends after its chunk, unwaited: joined at
        shutdown); the views keep its last frame until the new one arrives."""
        if self.session is not None:
            self.session.stop_worker()
            self._retired = [s for s in self._retired if s.running] + [self.session]
            self.session = None
        self.shell.controller.set_session(None)

    def _stop_session(self) -> None:
        for s in [*self._retired, self.session]:
            if s is not None:
                s.shutdown()
        self._retired = []
        for w in self._builds:  # a build still under way finishes unseen
            w.abandon()
        self._builds = []

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
        # These take their own pace (visible ones only, at the views' rate, computed in workers).
        self.experiment.set_step(frame.step)
        self.inside.set_frame(frame, self.shell.controller.playing)
        views = list(self._views().values())
        if frame.generation != self._drawn_gen:
            # A new lab's first frame: every view draws (and paints) anew, one per turn (all
            # in one took ~60 ms of the GUI thread).
            self._drawn_gen = frame.generation
            self._in_turns(views, 1)
            return
        if not self.shell.controller.playing:
            # Paused (a step, a scrub): the output, gradient flow and masks now, the leaderboard
            # and each curves plot in the turns after (all in one turn took ~30 ms).
            self._in_turns(views, 3)
            return
        if self._pending:  # a chain of draws under way (a new lab's first frame) does the rest
            views[0](frame)
            return
        n = self._frames
        # While playing the views take turns, one costly redraw per frame besides the output
        # (which changes at the worker's output rate): every second frame the gradient flow,
        # in between the masks, the leaderboard and each curves plot in turn (two of them in
        # one frame made the longest stalls of playback).
        turn = (n // 2) % 5 if n % 2 else 5
        for i, draw in enumerate(views):
            if i == 0 or turn == (5, 0, 1, 2, 3, 4)[i - 1]:
                draw(frame)

    def _views(self) -> dict:
        """The views' draws, in the order a new lab shows them: the centre first."""
        curves = [(self.val_plot, "val_loss"), (self.acc_plot, "val_acc"), (self.train_plot, "loss")]
        return {"output": self.output_view.set_frame, "flow": self.flow_view.set_frame,
                "masks": self.masks_view.set_frame, "board": lambda f: show_board(self.leaderboard, f),
                **{c[1]: (lambda f, c=c: show_curves([c], f)) for c in curves}}

    def _in_turns(self, draws: list, now: int, chain: int | None = None) -> None:
        """The first ``now`` draws at once, each next one a turn later, all of the latest
        frame; a newer chain of draws replaces one still under way."""
        if chain is None:
            self._chain = chain = self._chain + 1
        f = self.shell.controller.frame
        if chain != self._chain or f is None or f.generation != self._drawn_gen:
            if chain == self._chain:
                self._pending = 0
            return
        for draw in draws[:now]:
            draw(f)
        rest = draws[now:]
        self._pending = len(rest)
        if rest:
            QTimer.singleShot(TURN_MS, self, lambda: self._in_turns(rest, 1, chain))

    # -- view settings ------------------------------------------------------------------------
    def themed(self) -> list:
        views = ("output_view", "flow_view", "masks_view", "leaderboard", "val_plot", "acc_plot", "train_plot")
        inside = self.inside.themed() if self.built else []
        return [getattr(self, v) for v in views if hasattr(self, v)] + [self.experiment, *inside]

    def frozen_while_relayout(self) -> list[QWidget]:
        return [getattr(self, v) for v in ("val_plot", "acc_plot", "train_plot") if hasattr(self, v)]

    # -- files and exports --------------------------------------------------------------------
    @contextmanager
    def for_picture(self):
        """Every view made and drawn with the frame shown (not a turn later) for a picture."""
        self.finish_building()
        f = self.shell.controller.frame
        if f is not None and self._pending:
            self._chain += 1  # the draws still to come are done here
            self._pending = 0
            for draw in self._views().values():
                draw(f)
        self.experiment.wait()  # a screenshot shows the experiment's figure, not its progress bar
        with self.inside.for_picture():
            yield

    def write_image(self, path: str) -> bool:
        with self.for_picture():
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
        if not self._shut:
            self._shut = True
            self.model.lab_changed.disconnect(self.rebuild)
        self._chain += 1  # draws still to come would get another mode's frames
        if self.built:
            self.inside.shutdown()
        self.experiment.shutdown()
        self._stop_session()
