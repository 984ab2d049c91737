"""The window every mode lives in: menus, the playback bar under the centre, themes and
projector mode, files (open, save, save as, recent, drag and drop), export entries, the status
bar and the engine's warm-up (an overlay on the mode's centre).  It knows a mode only through ``app.modes.base.Mode``."""
from __future__ import annotations

import math
from pathlib import Path

import shiboken6

from PySide6.QtCore import QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QFont, QKeySequence, QPalette
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMainWindow,
                               QMessageBox, QSlider, QStyleFactory, QToolBar, QToolButton,
                               QVBoxLayout, QWidget)

from engine import scenario as scenario_io
from engine.scenario import ScenarioError

from .. import theme as themes
from ..model import ScenarioModel, default_scenario
from ..modes import MODES, mode_class
from ..settings import settings
from .caption import CaptionBanner
from ..views.gl import gl_available
from .playback import PlaybackController
from .warmup import MAP_READY, warm_up_worker
from .warmup_overlay import WarmUpOverlay
from .worker import with_progress_dialog

SPEED_STEPS = 300  # resolution of the log speed slider (1 .. 1000 steps per frame)
MAX_RECENT = 8
SCENARIO_FILTER = "OptiRace scenario (*.toml)"


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


class ShellWindow(QMainWindow):
    # A theme or projector transition has run its last step (one superseded by a newer
    # transition never emits; the newer one does).
    restyled = Signal()

    def __init__(self, model: ScenarioModel | None = None, *, restore: bool = True, warm_up: bool = True):
        super().__init__()
        self.model = model or ScenarioModel(default_scenario())
        if restore and model is None:
            self._restore_scenario()
        view = self.model.scenario.view
        self.projector_scale = themes.PROJECTOR_SCALE  # presenter mode's is larger
        self.theme = themes.get(view.theme, view.projector, self.projector_scale)
        apply_theme_to_app(self.theme)
        self.controller = PlaybackController(self)
        self.controller.steps_per_frame = view.steps_per_frame
        self.controller.loop = view.loop
        self.ready = False  # the engine's kernels are compiled (warm-up done)
        self.map_ready = False  # the surface kernels are (the mode can preview)
        self.restyling = False
        self.path: str | None = None  # the scenario file shown, if any
        self.modified = False  # edited since opened or saved
        self.gl_ok, self.gl_why = gl_available()
        self.docks: dict[str, QDockWidget] = {}
        self.setAcceptDrops(True)
        self.caption = CaptionBanner(self.theme)

        self._build_actions()
        from ..lessons_browser.page import LessonsPage
        from ..presenter.presenter import Presenter

        self.lessons = LessonsPage(self)  # the start page, the Lessons menu, folders of lessons
        self.presenter = Presenter(self)  # F5
        self.mode = mode_class(self.model.scenario.mode)(self)
        self._build_playback_bar()
        self._install_mode()
        self._build_menus()

        self.controller.frame_ready.connect(self._on_frame)
        self.controller.playing_changed.connect(self._playing_changed)
        self.controller.stopped_at_pause.connect(self.caption.show_pause)
        self.model.race_changed.connect(self._show_lesson)
        self._show_lesson()
        self.model.view_changed.connect(self._view_changed)
        for sig in (self.model.race_changed, self.model.racers_changed, self.model.surface_changed):
            sig.connect(self._edited)
        self._show_title()

        self.resize(1600, 960)
        self._restored_state = False
        if restore:
            s = settings()
            geo = s.value("window/geometry")
            if geo is not None:
                self.restoreGeometry(geo)
            self.act_caption.setChecked(s.value("view/caption", True, type=bool))
            state = s.value("window/state")
            if state is not None:
                self._restored_state = bool(self.restoreState(state))
        self.warmup = self.overlay = None
        if warm_up:
            self.overlay = WarmUpOverlay(self.mode.centre(), self.theme)
            self.overlay.start()
            self.warmup = warm_up_worker(self)
            self.warmup.progress.connect(self._warm_progress)
            self.warmup.finished.connect(self._warm_done)
            self.warmup.failed.connect(self._warm_failed)
            self.warmup.start()
        else:
            self._warm_done()

    # -- construction ---------------------------------------------------------------------------
    def action(self, text, slot=None, shortcut=None, checkable=False, tip=""):
        """A window-wide action (modes make theirs here too, so F1 lists every shortcut)."""
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
        c, act = self.controller, self.action
        v = self.model.scenario.view
        self.act_play = act("▶ Play", c.toggle, "Space", tip="Play or pause (Space)")
        self.act_step = act("Step forward", lambda: c.step_by(1), "Right", tip="One step forward (Right)")
        self.act_back = act("Step back", lambda: c.step_by(-1), "Left", tip="One step back (Left)")
        self.act_frame = act("Frame forward", lambda: c.step_by(c.steps_per_frame), "Shift+Right",
                             tip="One frame's worth of steps forward (Shift+Right)")
        self.act_frame_back = act("Frame back", lambda: c.step_by(-c.steps_per_frame), "Shift+Left",
                                  tip="One frame's worth of steps back (Shift+Left)")
        for a, glyph in ((self.act_step, "▸"), (self.act_back, "◂"), (self.act_frame, "▸▸"),
                         (self.act_frame_back, "◂◂")):
            a.setIconText(glyph)
        self.act_reset = act("⟲ Reset", c.reset, "R", tip="Back to step 0 (R)")
        self.act_loop = act("Loop", lambda on: self.model.set_view("loop", on), "L", checkable=True,
                            tip="Start again when every racer has stopped (L)")
        self.act_loop.setChecked(v.loop)
        self.act_run_to = act("Run to step…", self.ask_run_to, "Ctrl+J",
                              tip="Compute far ahead (with progress and Cancel) and show that step")
        self.act_projector = act("Projector mode", lambda on: self.model.set_view("projector", on), "Ctrl+P",
                                 checkable=True, tip="Larger fonts and thicker lines for the back row; "
                                 "editing panels fold away (View menu brings them back)")
        self.act_projector.setChecked(v.projector)
        self.act_caption = act("Lesson caption", self.caption.set_wanted, "C", checkable=True,
                               tip="The lesson's caption under the map, and each pause's at its step (C)")
        self.act_caption.setChecked(True)
        self.theme_group = QActionGroup(self)
        self.act_dark = act("Dark", lambda on: on and self.model.set_view("theme", "dark"), checkable=True)
        self.act_light = act("Light", lambda on: on and self.model.set_view("theme", "light"), checkable=True)
        for a in (self.act_dark, self.act_light):
            self.theme_group.addAction(a)
        (self.act_dark if v.theme == "dark" else self.act_light).setChecked(True)
        self.mode_group = QActionGroup(self)
        self.mode_actions = {}
        for i, (mode_id, (title, *_)) in enumerate(MODES.items()):
            a = act(title, None, f"Ctrl+{i + 1}", checkable=True, tip=f"Switch to the {title.lower()} (Ctrl+{i + 1})")
            self.mode_group.addAction(a)
            self.mode_actions[mode_id] = a
        self.mode_actions[self.model.scenario.mode].setChecked(True)
        for mode_id, a in self.mode_actions.items():
            a.toggled.connect(lambda on, m=mode_id: on and self.set_mode(m))
        self.act_open = act("Open scenario…", self.open_scenario, "Ctrl+O")
        self.act_save = act("Save scenario", self.save_scenario, "Ctrl+S",
                            tip="Save to the file it came from (or ask where)")
        self.act_save_as = act("Save scenario as…", self.save_scenario_as, "Ctrl+Shift+S")
        self.act_image = act("Export image…", self.save_image, "Ctrl+Shift+E",
                             tip="The view as a PNG, or the map as an SVG")
        self.act_export_video = act("Export video…", lambda: self.mode.export_video(), "Ctrl+E",
                                    tip="Render the run as MP4, WebM, GIF or PNG frames")
        self.act_export_data = act("Export data (CSV)…", lambda: self.mode.export_data(),
                                   tip="Every value of the run, one row per racer and step")
        self.act_quit = act("Quit", self.close, "Ctrl+Q")
        self.act_keys = act("Keyboard shortcuts", self._show_keys, "F1")
        self.act_about = act("About OptiRace", self._about)

    def _build_playback_bar(self) -> None:
        """Below the centre, like a video player: the timeline on one row, buttons and speed below."""
        bar = QWidget()
        outer = QVBoxLayout(bar)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(2)
        row1 = QHBoxLayout()
        self.timeline = QSlider(Qt.Horizontal)
        self.timeline.setRange(0, 0)
        self.timeline.setToolTip("Drag to any computed step")
        self.timeline.valueChanged.connect(self.controller.seek)
        self.timeline.setFocusPolicy(Qt.NoFocus)
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
        self.playback_bar = bar
        self._show_speed()
        self.view_bar = QToolBar("View")
        self.view_bar.setObjectName("toolbar_view")
        self.view_bar.setMovable(False)
        self.addToolBar(Qt.TopToolBarArea, self.view_bar)

    def _install_mode(self) -> None:
        """The mode's centre above the playback bar, its docks and its toolbar actions."""
        centre = QWidget()
        lay = QVBoxLayout(centre)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.mode.centre(), 1)
        lay.addWidget(self.caption)
        lay.addWidget(self.playback_bar)
        self.setCentralWidget(centre)
        for spec in self.mode.docks():
            d = QDockWidget(spec.title, self)
            d.setObjectName(f"dock_{spec.key}")
            d.setWidget(spec.widget)
            self.addDockWidget(spec.area, d)
            if spec.tab_with:
                self.tabifyDockWidget(self.docks[spec.tab_with], d)
            self.docks[spec.key] = d
        self.view_bar.clear()
        for a in self.mode.toolbar_actions() + [self.act_projector]:
            self.view_bar.addAction(a)
        self.statusBar().showMessage(self.mode.status_tip)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        mb.clear()
        f = mb.addMenu("&File")
        f.addAction(self.act_open)
        self.recent_menu = f.addMenu("Open recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        f.addAction(self.lessons.act_open_folder)
        for a in (self.act_save, self.act_save_as):
            f.addAction(a)
        f.addSeparator()
        for a in (self.act_image, self.act_export_video, self.act_export_data):
            f.addAction(a)
        f.addSeparator()
        f.addAction(self.act_quit)
        self.file_menu = f
        v = mb.addMenu("&View")
        modes = v.addMenu("Mode")
        for a in self.mode_actions.values():
            modes.addAction(a)
        tm = v.addMenu("Theme")
        tm.addAction(self.act_dark)
        tm.addAction(self.act_light)
        v.addAction(self.act_projector)
        v.addAction(self.act_caption)
        for entry in self.mode.view_actions():
            if isinstance(entry, tuple):
                sub = v.addMenu(entry[0])
                for a in entry[1]:
                    sub.addAction(a)
            else:
                v.addAction(entry)
        v.addSeparator()
        for d in self.docks.values():
            v.addAction(d.toggleViewAction())
        r = mb.addMenu(self.mode.menu_title)
        for a in (self.act_play, self.act_step, self.act_back, self.act_frame, self.act_frame_back, self.act_reset,
                  self.act_loop, self.act_run_to):
            r.addAction(a)
        extra = self.mode.menu_actions()
        if extra:
            r.addSeparator()
            for a in extra:
                r.addAction(a)
        self.lessons.add_menu(mb)
        h = mb.addMenu("&Help")
        h.addAction(self.act_keys)
        h.addAction(self.act_about)

    def set_mode(self, mode_id: str) -> None:
        """Show another mode: its centre, docks, toolbar and menus replace the current one's."""
        if mode_id == self.mode.id:
            return
        new = mode_class(mode_id)(self)
        self.controller.pause()
        self.controller.set_session(None)
        self.mode.shutdown()
        for d in self.docks.values():
            self.removeDockWidget(d)
            d.deleteLater()
        self.docks = {}
        # Gone now, not later: a model signal of the lesson opened next (mode.open) must not
        # reach it and hand the playback a session of the old mode.
        shiboken6.delete(self.mode)
        self.mode = new
        self.model.scenario.mode = mode_id
        self._install_mode()
        self._build_menus()
        self.mode_actions[mode_id].setChecked(True)
        self.layout_docks()
        if self.overlay is not None and self.overlay.running:
            self.overlay.set_host(self.mode.centre())
        if self.ready:
            self.mode.start()
        elif self.map_ready:
            self.mode.preview()

    def layout_docks(self) -> None:
        """Give the side panels sensible shares of the window (first start, or a new size)."""
        self.mode.layout_docks(self.width(), self.height())

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if not self._restored_state:
            self._restored_state = True
            # Re-applying the state drops a stray tab bar Qt leaves from tabifying docks
            # before the window was first laid out.
            self.restoreState(self.saveState())
            self.layout_docks()
            if self.model.scenario.view.projector:
                for step in self._projector_steps(True):
                    step()

    # -- warm-up --------------------------------------------------------------------------------
    def _warm_progress(self, stage: int, n: int) -> None:
        self.overlay.set_stage(stage)
        if stage >= MAP_READY and not self.map_ready:
            self.map_ready = True
            self.mode.preview()

    def _warm_done(self, *_) -> None:
        if self.overlay is not None:
            self.overlay.finish()
        self.ready = self.map_ready = True
        self.mode.start()

    def _warm_failed(self, message: str) -> None:
        self._warm_done()
        self.statusBar().showMessage(f"The engine's warm-up stopped: {message}", 15000)

    # -- playback -------------------------------------------------------------------------------
    def _show_lesson(self) -> None:
        """The scenario's caption in the banner; its lesson's pauses stop playback."""
        sc = self.model.scenario
        self.controller.pause_steps = tuple(sorted(p.step for p in sc.lesson.pauses)) if sc.lesson else ()
        self.caption.show_scenario(sc)

    def _on_frame(self, frame) -> None:
        if self.caption.pause_step not in (None, frame.step):
            self.caption.resume()  # the pause's caption stays only while its step is shown
        self.mode.on_frame(frame)
        with QSignalBlocker(self.timeline):
            self.timeline.setRange(0, frame.computed)
            self.timeline.setValue(frame.step)
        self.step_label.setText(f"{frame.step:,} / {frame.computed:,}")

    def _playing_changed(self, playing: bool) -> None:
        self.act_play.setText("❚❚ Pause" if playing else "▶ Play")
        if playing:
            self.caption.resume()
        self.mode.on_playing_changed(playing)

    def _speed_moved(self, pos: int) -> None:
        spf = max(1, min(1000, round(10 ** (3 * pos / SPEED_STEPS))))
        self.model.set_view("steps_per_frame", spf)

    def _show_speed(self) -> None:
        spf = self.model.scenario.view.steps_per_frame
        with QSignalBlocker(self.speed):
            self.speed.setValue(round(SPEED_STEPS * math.log10(max(spf, 1)) / 3))
        self.speed_label.setText(f"{spf} step{'s' if spf > 1 else ''}/frame")

    def ask_run_to(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        step, ok = QInputDialog.getInt(self, "Run to step", "Show the run at step:",
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

    # -- view settings: themes and projector mode -----------------------------------------------
    def _view_changed(self, name: str) -> None:
        v = self.model.scenario.view
        if name in ("theme", "projector"):
            self.theme = t = themes.get(v.theme, v.projector, self.projector_scale)
            if self.overlay is not None:
                self.overlay.set_theme(t)
            # The centre now, the panels' palette and each other view in an event of its own:
            # restyled and repainted all together they held the window for ~90 ms.
            views = self.mode.themed()
            frozen = self.mode.frozen_while_relayout()
            steps = [lambda: views[0].set_theme(t), lambda: (apply_theme_to_app(t), self.caption.set_theme(t))]
            if name == "projector":
                # Panels fold away before the fonts grow, and come back one by one after they
                # shrink: each laid out once, at the size it ends with.
                layout = self._projector_steps(v.projector)
                steps = [*layout, *steps] if v.projector else [steps[1], *layout, steps[0]]
                # Some views sit out the relayouts and paint once, at the end; every transition
                # ends thawed, so one that supersedes this never leaves them frozen.
                first = steps[0]
                steps[0] = lambda: ([w.setUpdatesEnabled(False) for w in frozen], first())
            self.restyling = True
            self._in_turn(steps + [lambda w=w: w.set_theme(t) for w in views[1:]] + [self._restyle_done])
            with QSignalBlocker(self.act_projector):
                self.act_projector.setChecked(v.projector)
            (self.act_dark if v.theme == "dark" else self.act_light).setChecked(True)
            return
        if name == "steps_per_frame":
            self.controller.steps_per_frame = v.steps_per_frame
            self._show_speed()
        elif name == "loop":
            self.controller.loop = v.loop
            with QSignalBlocker(self.act_loop):
                self.act_loop.setChecked(v.loop)
        self.mode.on_view_changed(name)

    def _restyle_done(self) -> None:
        for w in self.mode.frozen_while_relayout():
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

    def set_projector_scale(self, scale: float | None) -> None:
        """How much projector mode enlarges (None: its own; presenter mode's is larger)."""
        self.projector_scale = scale or themes.PROJECTOR_SCALE
        if self.model.scenario.view.projector:
            self._view_changed("theme")

    def _projector_steps(self, on: bool) -> list:
        """Projector mode gives the centre the room: the mode's editing panels fold away (the
        View menu brings any back) and return as they were when the mode is left."""
        if on:
            def fold():
                self._folded = [k for k in self.mode.presentation_hides if self.docks[k].isVisible()]
                for k in self._folded:
                    self.docks[k].hide()
                self.layout_docks()
            return [fold]
        folded, self._folded = getattr(self, "_folded", []), []
        # A panel of a mode left meanwhile is gone with it.
        return [lambda k=k: k in self.docks and self.docks[k].show() for k in folded] + [self.layout_docks]

    # -- files ----------------------------------------------------------------------------------
    def _edited(self) -> None:
        if not self.modified:
            self.modified = True
            self._show_title()

    def _show_title(self) -> None:
        name = Path(self.path).name if self.path else "untitled"
        self.setWindowTitle(f"{name}{' •' if self.modified else ''} — OptiRace")

    def _discard_ok(self) -> bool:
        """True when the shown scenario may be replaced: unmodified, saved, or discarded."""
        if not self.modified:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "The scenario has changes that are not saved in a file. Save them first?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save_scenario()
        return answer == QMessageBox.Discard

    def open_scenario(self) -> None:
        if not self._discard_ok():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open scenario", self._last_dir(), SCENARIO_FILTER)
        if path:
            self.load_scenario(path)

    def load_scenario(self, path: str, adjust=None) -> bool:
        """Open a scenario file in the mode it names; a bad file leaves everything as it was.
        ``adjust(scenario)`` may change it first (presenter mode's theme)."""
        try:
            sc = scenario_io.load(path)
            if adjust is not None:
                adjust(sc)
            if sc.mode not in MODES:
                raise ScenarioError(f"{path}: mode {sc.mode!r} is not in this OptiRace yet "
                                    f"(it has: {', '.join(MODES)})")
        except ScenarioError as e:
            QMessageBox.warning(self, "Cannot open scenario", str(e))
            return False
        self.set_mode(sc.mode)
        self.mode.open(sc, path)
        self.path = str(path)
        self.modified = False
        self._remember(self.path)
        self._show_title()
        return True

    def save_scenario(self) -> bool:
        return self.write_scenario(self.path) if self.path else self.save_scenario_as()

    def save_scenario_as(self) -> bool:
        start = self.path or str(Path(self._last_dir()) / "race.toml")
        path, _ = QFileDialog.getSaveFileName(self, "Save scenario", start, SCENARIO_FILTER)
        return bool(path) and self.write_scenario(path)

    def write_scenario(self, path: str) -> bool:
        try:
            scenario_io.save(self.model.scenario, path)
        except (ScenarioError, OSError) as e:
            QMessageBox.warning(self, "Cannot save scenario", str(e))
            return False
        self.path, self.modified = str(path), False
        self._remember(self.path)
        self._show_title()
        return True

    def _remember(self, path: str) -> None:
        s = settings()
        recent = [p for p in (s.value("files/recent") or []) if p != path]
        s.setValue("files/recent", [path, *recent][:MAX_RECENT])

    def recent_files(self) -> list[str]:
        return [str(p) for p in (settings().value("files/recent") or [])]

    def _last_dir(self) -> str:
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else ""

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            self.recent_menu.addAction(Path(p).name, lambda p=p: self._discard_ok() and self.load_scenario(p)).setToolTip(p)
        if not files:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def dragEnterEvent(self, ev) -> None:
        if any(u.toLocalFile().lower().endswith(".toml") for u in ev.mimeData().urls()):
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.toLocalFile().lower().endswith(".toml")]
        if paths and self._discard_ok():
            self.load_scenario(paths[0])

    def save_image(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export image", "race.png",
                                              "PNG image (*.png);;SVG image (*.svg)")
        if path:
            self.write_image(path)

    def write_image(self, path: str) -> bool:
        return self.mode.write_image(path)

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
            sc = scenario_io.loads(str(text), "saved settings")
            self.model.scenario = sc if sc.mode in MODES else default_scenario()
        except ScenarioError:
            self.model.scenario = default_scenario()

    def save_settings(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("view/caption", self.act_caption.isChecked())
        s.setValue("scenario/last", scenario_io.dumps(self.model.scenario))
        s.sync()

    def closeEvent(self, ev) -> None:
        # The scenario itself is kept in the settings and comes back at the next start.
        self.controller.shutdown()
        self.mode.shutdown()
        if self.warmup is not None and self.warmup.running:
            self.warmup.cancel()
            self.warmup.wait()
        if self.overlay is not None:
            self.overlay.finish()
        self.save_settings()
        super().closeEvent(ev)
