"""The main window: the race map in the centre, the racers, surface and step-inspector panels
on the left, the leaderboard and curves on the right, playback controls below; menus File,
View, Race and Help; geometry and the last scenario persist between runs."""
from __future__ import annotations

import math

from PySide6.QtCore import QBuffer, QIODevice, QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QFont, QKeySequence, QPalette
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QProgressBar, QProgressDialog, QScrollArea, QSlider, QStackedWidget, QStyleFactory, QToolBar,
                               QToolButton, QVBoxLayout, QWidget, QHBoxLayout)

from engine import scenario as scenario_io
from engine import theory
from engine.scenario import ScenarioError

from . import theme as themes
from .model import ScenarioModel, default_scenario
from .modes.surface_race.session import SurfaceSession
from .panels.racers import RacersPanel
from .panels.surface import SurfacePanel
from .settings import settings
from .shell.playback import PlaybackController
from .shell.warmup import start_warm_up
from .shell.worker import with_progress_dialog
from .views.curves import CurvePlot
from .views.inspector import StepInspector
from .views.leaderboard import Leaderboard
from .views.surface_view import SurfaceView

SPEED_STEPS = 300  # resolution of the log speed slider (1 .. 1000 steps per frame)
INSPECT_EVERY = 6  # while playing, refresh the inside-the-step arrows every few frames


def apply_theme_to_app(theme: themes.Theme) -> None:
    app = QApplication.instance()
    app.setStyle(QStyleFactory.create("Fusion"))
    pal = QPalette()
    bg, fg, base = QColor(theme.panel), QColor(theme.foreground), QColor(theme.background)
    for role, c in ((QPalette.Window, bg), (QPalette.WindowText, fg), (QPalette.Base, base),
                    (QPalette.AlternateBase, bg), (QPalette.Text, fg), (QPalette.Button, bg),
                    (QPalette.ButtonText, fg), (QPalette.ToolTipBase, base), (QPalette.ToolTipText, fg),
                    (QPalette.Highlight, QColor("#0072B2")), (QPalette.HighlightedText, QColor("#ffffff"))):
        pal.setColor(role, c)
    dim = QColor(theme.foreground)
    dim.setAlphaF(0.45)
    pal.setColor(QPalette.PlaceholderText, dim)
    for role in (QPalette.Text, QPalette.WindowText, QPalette.ButtonText):
        pal.setColor(QPalette.Disabled, role, dim)
    app.setPalette(pal)
    f = QFont(app.font())
    f.setPointSize(theme.font_pt)
    app.setFont(f)


def gl_available() -> tuple[bool, str]:
    """Whether the 3-D view can run here, and if not, why."""
    app = QApplication.instance()
    if app.platformName() in ("offscreen", "minimal"):
        return False, f"3-D view needs OpenGL, which the '{app.platformName()}' display platform does not provide"
    try:
        from PySide6.QtGui import QOffscreenSurface, QOpenGLContext

        ctx = QOpenGLContext()
        if not ctx.create():
            return False, "3-D view needs OpenGL, and no OpenGL context could be created"
        surf = QOffscreenSurface()
        surf.create()
        ok = ctx.makeCurrent(surf)
        ctx.doneCurrent()
        if not ok:
            return False, "3-D view needs OpenGL, and the OpenGL context could not be used"
        import pyqtgraph.opengl  # noqa: F401
    except Exception as e:  # any failure of the GL stack means: no 3-D view, say why
        return False, f"3-D view unavailable: {e}"
    return True, ""


class WidestTextLabel(QLabel):
    """A label as wide as its widest text in its own current font (the theme and projector
    mode change fonts), so a changing number neither shifts its neighbours nor gets cut."""

    def __init__(self, widest: str, parent=None):
        super().__init__(parent)
        self.widest = widest
        self.setAlignment(Qt.AlignRight | Qt.AlignVCenter)

    def minimumSizeHint(self) -> QSize:
        m = self.contentsMargins()
        return QSize(self.fontMetrics().horizontalAdvance(self.widest) + m.left() + m.right() + 4,
                     super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        return self.minimumSizeHint()


def _scrolled(w: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidget(w)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.NoFrame)
    return scroll


class MainWindow(QMainWindow):
    # A theme or projector transition has run its last step (one superseded by a newer
    # transition never emits; the newer one does).
    restyled = Signal()

    def __init__(self, model: ScenarioModel | None = None, *, restore: bool = True, warm_up: bool = True):
        super().__init__()
        self.setWindowTitle("OptiRace — optimizer race")
        self.model = model or ScenarioModel(default_scenario())
        if restore and model is None:
            self._restore_scenario()
        view = self.model.scenario.view
        self.theme = themes.get(view.theme, view.projector)
        apply_theme_to_app(self.theme)
        self.controller = PlaybackController(self)
        self.controller.steps_per_frame = view.steps_per_frame
        self.controller.loop = view.loop
        self.session: SurfaceSession | None = None
        self.ready = False  # the engine's kernels are compiled (warm-up done)
        self.history_capacity = 16384
        self._generation = 0
        self.model.race_changed.connect(self.rebuild)
        self.model.racers_changed.connect(self._restyle)
        self._frames = 0
        self.restyling = False
        self._explain_later = QTimer(self)
        self._explain_later.setSingleShot(True)
        self._explain_later.setInterval(0)
        self._explain_later.timeout.connect(self._update_inside_step)
        self._gl_ok, self._gl_why = gl_available()
        self.view3d = None

        self.surface_view = SurfaceView(self.theme)
        self.surface_view.set_colormap(view.colormap)
        self.surface_view.start_picked.connect(self.model.set_start)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.surface_view)

        self.leaderboard = Leaderboard(self.theme)
        self.leaderboard.racer_selected.connect(self._select_enabled)
        self.loss_plot = CurvePlot("loss", self.theme)
        self.grad_plot = CurvePlot("grad", self.theme)
        self.inspector = StepInspector(self.theme)
        self.racers_panel = RacersPanel(self.model)
        self.surface_panel = SurfacePanel(self.model)

        self.docks = {}
        self._dock("racers", "Racers", _scrolled(self.racers_panel), Qt.LeftDockWidgetArea)
        self._dock("surface", "Surface", _scrolled(self.surface_panel), Qt.LeftDockWidgetArea)
        self.tabifyDockWidget(self.docks["racers"], self.docks["surface"])
        self._dock("leaderboard", "Leaderboard", self.leaderboard, Qt.RightDockWidgetArea)
        self._dock("loss", "Loss", self.loss_plot, Qt.RightDockWidgetArea)
        self._dock("grad", "Gradient norm", self.grad_plot, Qt.RightDockWidgetArea)
        # Short titles: the three left panels share one tab bar, which elides long ones.
        self._dock("inspector", "Inspector", self.inspector, Qt.LeftDockWidgetArea)
        self.tabifyDockWidget(self.docks["surface"], self.docks["inspector"])

        self._build_actions()
        self._build_playback_bar()
        self._build_menus()
        self._build_status_bar()

        self.controller.frame_ready.connect(self.on_frame)
        self.controller.playing_changed.connect(self._playing_changed)
        self.model.view_changed.connect(self._view_changed)
        self.model.surface_changed.connect(self._update_theory)
        self.model.race_changed.connect(self._update_theory)

        self.resize(1600, 960)
        self._restored_state = False
        if restore:
            s = settings()
            geo = s.value("window/geometry")
            if geo is not None:
                self.restoreGeometry(geo)
            state = s.value("window/state")
            if state is not None:
                self._restored_state = bool(self.restoreState(state))
        self.warmup = None
        if warm_up:
            self.warmup = start_warm_up(self)
            self.warmup.progress.connect(self._warm_progress)
            for sig in (self.warmup.finished, self.warmup.failed):
                sig.connect(self._warm_done)
            self.progress.setVisible(True)
        else:
            self._warm_done()

    # -- construction ---------------------------------------------------------------------------
    def _dock(self, key: str, title: str, widget: QWidget, area) -> None:
        d = QDockWidget(title, self)
        d.setObjectName(f"dock_{key}")
        d.setWidget(widget)
        self.addDockWidget(area, d)
        self.docks[key] = d

    def _act(self, text, slot=None, shortcut=None, checkable=False, tip=""):
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.WindowShortcut)
        if checkable:
            a.setCheckable(True)
        if slot is not None:
            (a.toggled if checkable else a.triggered).connect(slot)
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        c = self.controller
        v = self.model.scenario.view
        self.act_play = self._act("▶ Play", c.toggle, "Space", tip="Play or pause the race (Space)")
        self.act_step = self._act("Step forward", lambda: c.step_by(1), "Right", tip="One step forward (Right)")
        self.act_back = self._act("Step back", lambda: c.step_by(-1), "Left", tip="One step back (Left)")
        self.act_frame = self._act("Frame forward", lambda: c.step_by(self.model.scenario.view.steps_per_frame),
                                   "Shift+Right", tip="One frame's worth of steps forward (Shift+Right)")
        self.act_frame_back = self._act("Frame back", lambda: c.step_by(-self.model.scenario.view.steps_per_frame),
                                        "Shift+Left", tip="One frame's worth of steps back (Shift+Left)")
        for a, glyph in ((self.act_step, "▸"), (self.act_back, "◂"), (self.act_frame, "▸▸"),
                         (self.act_frame_back, "◂◂")):
            a.setIconText(glyph)
        self.act_reset = self._act("⟲ Reset", c.reset, "R", tip="Back to step 0 (R)")
        self.act_loop = self._act("Loop", lambda on: self.model.set_view("loop", on), "L", checkable=True,
                                  tip="Start again when every racer has stopped (L)")
        self.act_loop.setChecked(v.loop)
        self.act_fit = self._act("Fit domain", self.surface_view.fit_domain, "F", tip="Show the whole domain (F)")
        self.act_fit_all = self._act("Fit trajectories", self.surface_view.fit_trajectories, "Shift+F",
                                     tip="Show every trajectory (Shift+F)")
        self.act_theory = self._act("Theory overlay", lambda on: self.model.set_view("show_theory", on), "T",
                                    checkable=True, tip="Eigen-directions and stability limits on quadratic surfaces (T)")
        self.act_theory.setChecked(v.show_theory)
        self.act_inside = self._act("Inside the step", lambda on: self.model.set_view("show_inside_step", on), "I",
                                    checkable=True, tip="Gradient, momentum and step arrows for the selected racer (I)")
        self.act_inside.setChecked(v.show_inside_step)
        self.act_projector = self._act("Projector mode", lambda on: self.model.set_view("projector", on), "Ctrl+P",
                                       checkable=True, tip="Larger fonts and thicker lines for the back row; "
                                       "editing panels fold away (View menu brings them back)")
        self.act_projector.setChecked(v.projector)
        self.theme_group = QActionGroup(self)
        self.act_dark = self._act("Dark", lambda on: on and self.model.set_view("theme", "dark"), checkable=True)
        self.act_light = self._act("Light", lambda on: on and self.model.set_view("theme", "light"), checkable=True)
        for a in (self.act_dark, self.act_light):
            self.theme_group.addAction(a)
        (self.act_dark if v.theme == "dark" else self.act_light).setChecked(True)
        self.colormap_group = QActionGroup(self)
        self.colormap_actions = {}
        for name, text in (("slate", "Slate (the theme's)"), ("viridis", "Viridis"), ("cividis", "Cividis")):
            a = self._act(text, lambda on, n=name: on and self.model.set_view("colormap", n), checkable=True,
                          tip="Shading of the heights; viridis and cividis stay readable on a washed-out projector"
                          if name != "slate" else "The theme's muted shading")
            self.colormap_group.addAction(a)
            self.colormap_actions[name] = a
        self.colormap_actions[v.colormap].setChecked(True)
        self.act_3d = self._act("3-D view", lambda on: self.model.set_view("mode", "3d" if on else "2d"), "3",
                                checkable=True, tip="Switch between the map and a 3-D view of the surface (3)")
        self.act_turntable = self._act("Turntable (3-D)", self._set_turntable, "O", checkable=True,
                                       tip="Turn the 3-D view slowly round the surface (O)")
        if not self._gl_ok:
            for a in (self.act_3d, self.act_turntable):
                a.setEnabled(False)
                a.setToolTip(self._gl_why)
                a.setStatusTip(self._gl_why)
        self.act_open = self._act("Open scenario…", self.open_scenario, "Ctrl+O")
        self.act_save = self._act("Save scenario…", self.save_scenario, "Ctrl+S")
        self.act_image = self._act("Export image…", self.save_image, "Ctrl+Shift+S",
                                   tip="The map (or the 3-D view) as a PNG, or the map as an SVG")
        self.act_export_video = self._act("Export video…", self.export_video, "Ctrl+E",
                                          tip="Render the race as MP4, WebM, GIF or PNG frames")
        self.act_export_data = self._act("Export data (CSV)…", self.export_data,
                                         tip="Trajectories, losses and gradient norms, one row per racer and step")
        self.act_quit = self._act("Quit", self.close, "Ctrl+Q")
        self.act_run_to = self._act("Run to step…", self.ask_run_to, "Ctrl+J",
                                    tip="Compute far ahead (with progress and Cancel) and show that step")
        self.act_classic = self._act("Classic six", lambda: self.model.preset("classic"))
        self.act_all = self._act("All optimizers", lambda: self.model.preset("all"))

    def _build_playback_bar(self) -> None:
        """Below the map, like a video player: the timeline on one row, buttons and speed below."""
        bar = QWidget()
        outer = QVBoxLayout(bar)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(2)
        row1 = QHBoxLayout()
        self.timeline = QSlider(Qt.Horizontal)
        self.timeline.setRange(0, 0)
        self.timeline.setToolTip("Drag to any computed step")
        self.timeline.valueChanged.connect(self._timeline_moved)
        row1.addWidget(self.timeline, 1)
        self.step_label = WidestTextLabel("10,000,000 / 10,000,000")
        row1.addWidget(self.step_label)
        outer.addLayout(row1)
        row2 = QHBoxLayout()
        self.playback_buttons = []
        for a in (self.act_reset, self.act_frame_back, self.act_back, self.act_play, self.act_step, self.act_frame,
                  self.act_loop):
            b = QToolButton()
            b.setDefaultAction(a)
            b.setToolButtonStyle(Qt.ToolButtonTextOnly)
            b.setAutoRaise(True)
            b.setFocusPolicy(Qt.NoFocus)
            if a is self.act_reset:
                b.setText("⟲")  # the menu says "Reset"; the bar must fit a 1280-px window
            row2.addWidget(b)
            self.playback_buttons.append(b)
        row2.addStretch(1)
        self.speed = QSlider(Qt.Horizontal)
        self.speed.setRange(0, SPEED_STEPS)
        self.speed.setMinimumWidth(60)
        self.speed.setMaximumWidth(260)
        self.speed.setFocusPolicy(Qt.NoFocus)
        self.speed.setToolTip("Steps per frame, from 1 to 1,000 (logarithmic)")
        self.speed.valueChanged.connect(self._speed_moved)
        row2.addWidget(self.speed, 1)
        self.speed_label = WidestTextLabel("1000 steps/frame")
        row2.addWidget(self.speed_label)
        outer.addLayout(row2)
        self.timeline.setFocusPolicy(Qt.NoFocus)
        centre = QWidget()
        lay = QVBoxLayout(centre)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.stack, 1)
        lay.addWidget(bar)
        self.setCentralWidget(centre)
        self.playback_bar = bar
        self._show_speed()

        top = QToolBar("View")
        top.setObjectName("toolbar_view")
        top.setMovable(False)
        for a in (self.act_fit, self.act_fit_all, self.act_inside, self.act_theory, self.act_3d, self.act_projector):
            top.addAction(a)
        self.addToolBar(Qt.TopToolBarArea, top)
        self.view_bar = top

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        for a in (self.act_open, self.act_save, self.act_image, self.act_export_video, self.act_export_data):
            f.addAction(a)
        f.addSeparator()
        f.addAction(self.act_quit)
        self.file_menu = f
        v = mb.addMenu("&View")
        tm = v.addMenu("Theme")
        tm.addAction(self.act_dark)
        tm.addAction(self.act_light)
        cm = v.addMenu("Colour map")
        for a in self.colormap_actions.values():
            cm.addAction(a)
        for a in (self.act_projector, self.act_3d, self.act_turntable, self.act_fit, self.act_fit_all, self.act_inside, self.act_theory):
            v.addAction(a)
        v.addSeparator()
        for d in self.docks.values():
            v.addAction(d.toggleViewAction())
        r = mb.addMenu("&Race")
        for a in (self.act_play, self.act_step, self.act_back, self.act_frame, self.act_frame_back, self.act_reset,
                  self.act_loop):
            r.addAction(a)
        r.addAction(self.act_run_to)
        r.addSeparator()
        r.addAction(self.act_classic)
        r.addAction(self.act_all)
        h = mb.addMenu("&Help")
        h.addAction(self._act("Keyboard shortcuts", self._show_keys, "F1"))
        h.addAction(self._act("About OptiRace", self._about))

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("Preparing the engine… %p%")
        self.progress.setVisible(False)
        sb.addPermanentWidget(self.progress)
        sb.showMessage("Space: play / pause   ←/→: step   R: reset   click the map: move the start")

    def layout_docks(self) -> None:
        """Give the side panels sensible shares of the window (first start, or a new size)."""
        w, h = self.width(), self.height()
        rows = max(len(self.model.enabled_indices()), 3)
        board = int(min(0.45 * h, (rows + 1.6) * self.theme.font_pt * 2.4))
        # Narrow windows keep the panels wide enough for their editors and table columns;
        # the map is limited by the height there anyway.
        left = max(int(0.2 * w), min(290, int(0.24 * w)))
        right = min(max(int(0.31 * w), self.leaderboard.essential_width(self.theme)), int(0.45 * w))
        self.resizeDocks([self.docks["racers"], self.docks["leaderboard"]], [left, right], Qt.Horizontal)
        rest = max(h - board - 160, 200)
        plots = [self.docks[k] for k in ("loss", "grad") if self.docks[k].isVisible()] or [self.docks["loss"]]
        self.resizeDocks([self.docks["leaderboard"], *plots], [board] + [rest // len(plots)] * len(plots),
                         Qt.Vertical)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if not self._restored_state:
            self._restored_state = True
            # Re-applying the state drops a stray tab bar Qt leaves from tabifying docks
            # before the window was first laid out.
            self.restoreState(self.saveState())
            self.layout_docks()
            self.docks["racers"].raise_()
            if self.model.scenario.view.projector:
                for step in self._projector_steps(True):
                    step()

    # -- warm-up --------------------------------------------------------------------------------
    def _warm_progress(self, i: int, n: int) -> None:
        self.progress.setRange(0, n)
        self.progress.setValue(i)

    def _warm_done(self, *_) -> None:
        self.progress.setVisible(False)
        self.ready = True
        self.rebuild()
        self._update_theory()

    def rebuild(self) -> None:
        """A fresh race from the scenario, shown from step 0 (keeps playing if it was)."""
        if not self.ready:
            return
        self._generation += 1
        self.session = SurfaceSession(self.model, self._generation, self.history_capacity)
        self.controller.set_session(self.session)

    def _restyle(self) -> None:
        if self.session is not None:
            self.session.restyle()

    # -- frames ---------------------------------------------------------------------------------
    def on_frame(self, frame) -> None:
        self._frames += 1
        self.surface_view.set_frame(frame)
        if self.view3d is not None and self.stack.currentWidget() is self.view3d:
            self.view3d.set_frame(frame)
        # Paused, everything follows at once.  While playing, the table follows every third
        # frame and each curve plot every sixth, on different frames (20 and 10 updates a
        # second are plenty to read; a plot of 16 curves costs several milliseconds to redraw),
        # a new race's first frame included: the map and the docks never redraw in one event.
        full = not self.controller.playing
        n = self._frames
        if full or n % 3 == 0:
            self.leaderboard.set_frame(frame)
        if full or n % 6 == 1:
            self.loss_plot.set_frame(frame)
        if full or n % 6 == 4:
            self.grad_plot.set_frame(frame)
        with QSignalBlocker(self.timeline):
            self.timeline.setRange(0, frame.computed)
            self.timeline.setValue(frame.step)
        self.step_label.setText(f"{frame.step:,} / {frame.computed:,}")
        playing = self.controller.playing
        if frame.tail is None:
            # After a jump or a rebuild the map comes first; the step is explained in the next
            # event, so neither part blocks the window for long.
            self._explain_later.start()
        elif not playing or (self._frames % INSPECT_EVERY == 0 and self._cheap_explain()):
            self._update_inside_step()

    def _cheap_explain(self) -> bool:
        # explain_step recomputes from the nearest checkpoint; while playing, only when that is short.
        race = self.session.race if self.session is not None else None
        return race is not None and race.checkpoint_every <= 4000

    def _selected_enabled(self) -> int | None:
        sel = self.model.scenario.view.selected
        idx = self.model.enabled_indices()
        return idx.index(sel) if sel in idx else None

    def _select_enabled(self, r: int) -> None:
        self.model.set_view("selected", self.session.model_index(r))

    def _update_inside_step(self) -> None:
        r = self._selected_enabled()
        e = self.session.explain(r, self.controller.k) if (r is not None and self.session) else None
        color = self.controller.frame.looks[r].color if e is not None else None
        if e is not None:
            self.inspector.set_explained(e, self.session.racer_spec(r), color)
        else:
            self.inspector.set_explained(None, None)
        self.surface_view.set_inside_step(e if self.model.scenario.view.show_inside_step else None, color)

    def _update_theory(self) -> None:
        sc = self.model.scenario
        f = self.controller.frame
        q = theory.analyse(f.surface) if (f is not None and sc.view.show_theory) else None
        if q is None:
            self.surface_view.set_theory(None)
            self.racers_panel.set_lr_marks([])
            return
        lines = [theory.describe(q)]
        names = self.model.racer_names()
        marks = []
        for i in self.model.enabled_indices():
            r = sc.racers[i]
            limit = theory.stability_limit(q, r.optimizer, r.hyper)
            if limit is None:
                lines.append(f"{names[i]}: adaptive step, no fixed limit")
                continue
            lr = theory.lr_of(r.optimizer, r.hyper)
            lines.append(f"{names[i]}: stable for lr < {limit:.3g}   (lr = {lr:.3g} {'✓' if lr < limit else '✗ unstable'})")
            if i == sc.view.selected:
                marks.append((limit, "#D55E00"))
                best = theory.best_lr(q, r.optimizer, r.hyper)
                if best is not None:
                    marks.append((best, "#009E73"))
        text = "\n".join(lines)
        self.surface_view.set_theory(q.lines, text)
        self.racers_panel.set_lr_marks(marks)

    # -- controls -------------------------------------------------------------------------------
    def _speed_moved(self, pos: int) -> None:
        spf = max(1, min(1000, round(10 ** (3 * pos / SPEED_STEPS))))
        self.model.set_view("steps_per_frame", spf)

    def _show_speed(self) -> None:
        spf = self.model.scenario.view.steps_per_frame
        with QSignalBlocker(self.speed):
            self.speed.setValue(round(SPEED_STEPS * math.log10(max(spf, 1)) / 3))
        self.speed_label.setText(f"{spf} step{'s' if spf > 1 else ''}/frame")

    def _timeline_moved(self, value: int) -> None:
        self.controller.seek(value)

    def _playing_changed(self, playing: bool) -> None:
        self.act_play.setText("❚❚ Pause" if playing else "▶ Play")
        if not playing and self.controller.frame is not None:
            self.on_frame(self.controller.frame)  # the views thinned while playing catch up

    def _view_changed(self, name: str) -> None:
        v = self.model.scenario.view
        if name in ("theme", "projector"):
            self.theme = t = themes.get(v.theme, v.projector)
            # The map now, the panels' palette and each other view in an event of its own:
            # restyled and repainted all together they held the window for ~90 ms.
            views = [self.leaderboard, self.loss_plot, self.grad_plot, self.inspector]
            if self.view3d is not None:
                views.append(self.view3d)
            plots = (self.loss_plot, self.grad_plot)
            steps = [lambda: self.surface_view.set_theme(t), lambda: apply_theme_to_app(t)]
            if name == "projector":
                # Panels fold away before the fonts grow, and come back one by one after they
                # shrink: each laid out once, at the size it ends with.
                layout = self._projector_steps(v.projector)
                steps = [*layout, *steps] if v.projector else [steps[1], *layout, steps[0]]
                # The curve plots sit out the relayouts (each redrew 36 thick curves at a new
                # size) and paint once, at the end; every transition ends thawed, so one that
                # supersedes this never leaves them frozen.
                first = steps[0]
                steps[0] = lambda: ([w.setUpdatesEnabled(False) for w in plots], first())
            self.restyling = True
            self._in_turn(steps + [lambda w=w: w.set_theme(t) for w in views] + [self._restyle_done])
            with QSignalBlocker(self.act_projector):
                self.act_projector.setChecked(v.projector)
            (self.act_dark if v.theme == "dark" else self.act_light).setChecked(True)
        elif name == "steps_per_frame":
            self.controller.steps_per_frame = v.steps_per_frame
            self._show_speed()
        elif name == "loop":
            self.controller.loop = v.loop
            with QSignalBlocker(self.act_loop):
                self.act_loop.setChecked(v.loop)
        elif name == "show_theory":
            with QSignalBlocker(self.act_theory):
                self.act_theory.setChecked(v.show_theory)
            self._update_theory()
        elif name == "show_inside_step":
            with QSignalBlocker(self.act_inside):
                self.act_inside.setChecked(v.show_inside_step)
            self._update_inside_step()
        elif name == "selected":
            self._update_inside_step()
            self._update_theory()
        elif name == "mode":
            self._set_mode(v.mode)
        elif name == "colormap":
            with QSignalBlocker(self.colormap_group):
                self.colormap_actions[v.colormap].setChecked(True)
            self.surface_view.set_colormap(v.colormap)
            if self.view3d is not None:
                self.view3d.set_colormap(v.colormap)

    def _restyle_done(self) -> None:
        for w in (self.loss_plot, self.grad_plot):
            w.setUpdatesEnabled(True)
        self.restyling = False
        self.restyled.emit()

    def _in_turn(self, steps: list, turn: int | None = None) -> None:
        """Run the first step now and each next one in a later event of its own, with the
        repaint it causes in between (1 ms, not 0: Qt posts a 0 ms single shot as an event,
        and posted events run back to back, repaints included, without input in between).
        A newer call drops the steps of an older one still under way."""
        if turn is None:
            self._turn = turn = getattr(self, "_turn", 0) + 1
        if steps and turn == self._turn:
            steps[0]()
            if steps[1:]:
                QTimer.singleShot(1, self, lambda: self._in_turn(steps[1:], turn))

    PRESENTATION_HIDES = ("racers", "surface", "inspector", "grad")

    def _projector_steps(self, on: bool) -> list:
        """Projector mode gives the map the room: the editing panels fold away (the View menu
        brings any back) and return as they were when the mode is left."""
        if on:
            def fold():
                self._folded = [k for k in self.PRESENTATION_HIDES if self.docks[k].isVisible()]
                for k in self._folded:
                    self.docks[k].hide()
                self.layout_docks()
            return [fold]
        folded, self._folded = getattr(self, "_folded", []), []
        return [lambda k=k: self.docks[k].show() for k in folded] + [self.layout_docks]

    def _set_mode(self, mode: str) -> None:
        if mode == "3d" and self._gl_ok:
            if self.view3d is None:
                from .views.surface3d import Surface3DView

                self.view3d = Surface3DView(self.theme)
                self.view3d.set_colormap(self.model.scenario.view.colormap)
                self.view3d.set_turning(self.act_turntable.isChecked())
                self.stack.addWidget(self.view3d)
            self.stack.setCurrentWidget(self.view3d)
            if self.controller.frame is not None:
                self.view3d.set_frame(self.controller.frame)
        else:
            self.stack.setCurrentWidget(self.surface_view)
        with QSignalBlocker(self.act_3d):
            self.act_3d.setChecked(self.stack.currentWidget() is not self.surface_view)

    def _set_turntable(self, on: bool) -> None:
        if on and self.model.scenario.view.mode != "3d":
            self.model.set_view("mode", "3d")  # a turntable is only seen in 3-D
        if self.view3d is not None:
            self.view3d.set_turning(on)

    def ask_run_to(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        step, ok = QInputDialog.getInt(self, "Run to step", "Show the race at step:",
                                       max(self.controller.k, 1000) * 10, 1, 2_000_000_000)
        if ok:
            self.run_to(step)

    def run_to(self, step: int):
        """Compute up to ``step`` in a worker with a progress dialog (Cancel stops at the step
        reached, which is then shown); returns the worker, or None when nothing was to compute."""
        worker = self.controller.compute_in_worker(step, self)
        if worker is not None:
            with_progress_dialog(worker, self, f"Computing steps {self.controller.session.computed:,} to {step:,}…",
                                 "Run to step")
        return worker

    # -- files ----------------------------------------------------------------------------------
    def open_scenario(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open scenario", "", "OptiRace scenario (*.toml)")
        if path:
            self.load_scenario(path)

    def load_scenario(self, path: str) -> bool:
        """Open a scenario file; one with a user formula is compiled in the background first
        (a formula new to this machine costs seconds of compiling)."""
        try:
            sc = scenario_io.load(path)
        except ScenarioError as e:
            QMessageBox.warning(self, "Cannot open scenario", str(e))
            return False
        if not sc.formula:
            self.model.load(sc)
            return True
        from .formula_dialog import compile_in_background

        f = sc.formula
        kwargs = {"text": f["formula"], "params": f.get("params") or {}, "start": f.get("start"),
                  "minima": f.get("minima"), "name": f.get("name")}
        if f.get("domain"):
            kwargs["domain"] = f["domain"]
        progress = QProgressDialog("Compiling the scenario's formula (once per machine)…", "Cancel", 0, 0, self)
        progress.setWindowTitle("Opening scenario")
        progress.setMinimumDuration(300)

        def done(surface, error):
            progress.close()
            if error is not None:
                QMessageBox.warning(self, "Cannot open scenario", f"{path}: formula: {error}")
            else:
                self.model.load(sc, surface)

        self._formula_job = compile_in_background(kwargs, done, self)
        progress.canceled.connect(self._formula_job.abandon)
        return True

    def save_scenario(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save scenario", "race.toml", "OptiRace scenario (*.toml)")
        if path:
            try:
                scenario_io.save(self.model.scenario, path)
            except (ScenarioError, OSError) as e:
                QMessageBox.warning(self, "Cannot save scenario", str(e))

    def save_image(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export image", "race.png",
                                              "PNG image (*.png);;SVG image (*.svg)")
        if path:
            self.write_image(path)

    def write_image(self, path: str) -> bool:
        """Save the current view as PNG, or the map as SVG (by the file's suffix), through a
        temporary file: never a half-written image."""
        svg = path.lower().endswith(".svg")
        if svg and self.stack.currentWidget() is not self.surface_view:
            QMessageBox.warning(self, "Cannot save image", "SVG export covers the 2-D map; "
                                "switch the 3-D view off (key 3) or save a PNG.")
            return False
        buf = QBuffer()
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        with self.surface_view.whole_layers():
            if svg:
                ok = self._write_svg(buf)
            elif self.stack.currentWidget() is self.view3d:  # grab() leaves out what Qt paints over GL
                ok = self.view3d.grabFramebuffer().save(buf, "PNG")
            else:
                ok = self.surface_view.grab().save(buf, "PNG")
        try:
            if ok:
                scenario_io.atomic_write(path, bytes(buf.data()))
        except OSError as e:
            ok = False
            QMessageBox.warning(self, "Cannot save image", f"Could not write {path}: {e.strerror}")
        return ok

    def _write_svg(self, buf: QBuffer) -> bool:
        """The map as SVG: axes, labels, markers and colour bar as vectors; the shading,
        iso-lines and trails as the images the map caches them in."""
        from PySide6.QtGui import QPainter
        from PySide6.QtSvg import QSvgGenerator

        view = self.surface_view
        gen = QSvgGenerator()
        gen.setOutputDevice(buf)
        gen.setSize(view.size())
        gen.setViewBox(view.rect())
        gen.setResolution(view.logicalDpiX())  # fonts in points come out the size they are on screen
        gen.setTitle("OptiRace")
        # Markers drawn as paths (vectors), not from pyqtgraph's pixmap atlas, which an SVG
        # painter scales wrongly.
        markers = (view.heads, view.marks, view.minima)
        for m in markers:
            m.setExportMode(True, {"antialias": True})
        try:
            p = QPainter(gen)
            view.render(p)
            return p.end()
        finally:
            for m in markers:
                m.setExportMode(False)

    def export_video(self) -> None:
        from .export.dialog import export_video

        self.controller.pause()
        path = export_video(self, self.model.snapshot())
        if path:
            self.statusBar().showMessage(f"Exported {path}", 8000)

    def export_data(self) -> None:
        from .export.dialog import export_data

        path = export_data(self, self.model.snapshot(), last=max(self.controller.k, 1))
        if path:
            self.statusBar().showMessage(f"Exported {path}", 8000)

    def _show_keys(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", "\n".join(
            f"{a.shortcut().toString():>12}   {a.toolTip() or a.text()}" for a in self.actions() if not a.shortcut().isEmpty()))

    def _about(self) -> None:
        QMessageBox.about(self, "About OptiRace", "<h3>OptiRace</h3><p>Optimizers race on loss surfaces: "
                          "a simulator for teaching deep learning.</p>")

    # -- persistence ----------------------------------------------------------------------------
    def _restore_scenario(self) -> None:
        text = settings().value("scenario/last")
        if not text:
            return
        try:
            self.model.scenario = scenario_io.loads(str(text), "saved settings")
        except ScenarioError:
            self.model.scenario = default_scenario()

    def save_settings(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("scenario/last", scenario_io.dumps(self.model.scenario))
        s.sync()

    def closeEvent(self, ev) -> None:
        self.controller.shutdown()
        self._explain_later.stop()
        if self.warmup is not None and self.warmup.running:
            self.warmup.cancel()
            self.warmup.wait()
        self.save_settings()
        super().closeEvent(ev)
