"""The surface race mode: the map (or 3-D view) in the centre, the racers, surface and step
inspector on the left, the leaderboard and curves on the right; the inside-the-step arrows
and the theory overlay follow the selected racer."""
from __future__ import annotations

from PySide6.QtCore import QBuffer, QIODevice, QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QStackedWidget, QWidget

from engine import scenario as scenario_io
from engine.surfaces import theory

from ...panels.racers import RacersPanel
from .surface_panel import SurfacePanel
from ...views.curves import CurvePlot
from ...views.inspector import StepInspector
from ...views.leaderboard import Leaderboard
from ...views.surface_view import SurfaceView
from ..base import NARROW_PX, DockSpec, Mode, scrolled
from .feeds import CurveFeed, show_board
from .session import SurfaceSession

INSPECT_EVERY = 6  # while playing, refresh the inside-the-step arrows every few frames


class SurfaceRaceMode(Mode):
    id = "surface"
    title = "Surface race"
    menu_title = "&Race"
    presentation_hides = ("racers", "surface", "inspector", "grad")
    status_tip = "Space: play / pause   ←/→: step   R: reset   click the map: move the start"

    def __init__(self, shell):
        super().__init__(shell)
        theme = shell.theme
        view = self.model.scenario.view
        self.session: SurfaceSession | None = None
        self._narrow_folded = False  # a narrow projector folded the loss curves away
        self.history_capacity = 16384
        self._generation = 0
        self._frames = 0
        self._previewing = False
        self._explain_later = QTimer(self)
        self._explain_later.setSingleShot(True)
        self._explain_later.setInterval(0)
        self._explain_later.timeout.connect(self._update_inside_step)
        self.view3d = None

        self.surface_view = SurfaceView(theme)
        self.surface_view.set_colormap(view.colormap)
        self.surface_view.start_picked.connect(self.model.set_start)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.surface_view)
        self.leaderboard = Leaderboard(theme)
        self.leaderboard.racer_selected.connect(self._select_enabled)
        self.loss_plot = CurvePlot(theme)
        self.grad_plot = CurvePlot(theme)
        self.loss_feed = CurveFeed(self.loss_plot, "loss")
        self.grad_feed = CurveFeed(self.grad_plot, "grad")
        self.inspector = StepInspector(theme)
        self.racers_panel = RacersPanel(self.model)
        self.surface_panel = SurfacePanel(self.model)
        self._build_actions()

        self.model.race_changed.connect(self.rebuild)
        self.model.racers_changed.connect(self._restyle)
        self.model.surface_changed.connect(self._update_theory)
        self.model.race_changed.connect(self._update_theory)

    def _build_actions(self) -> None:
        act, v, sh = self.shell.action, self.model.scenario.view, self.shell
        self.act_fit = act("Fit domain", self.surface_view.fit_domain, "F", tip="Show the whole domain (F)")
        self.act_fit_all = act("Fit trajectories", self.surface_view.fit_trajectories, "Shift+F",
                               tip="Show every trajectory (Shift+F)")
        self.act_theory = act("Theory overlay", lambda on: self.model.set_view("show_theory", on), "T",
                              checkable=True, tip="Eigen-directions and stability limits on quadratic surfaces (T)")
        self.act_theory.setChecked(v.show_theory)
        self.act_inside = act("Inside the step", lambda on: self.model.set_view("show_inside_step", on), "I",
                              checkable=True, tip="Gradient, momentum and step arrows for the selected racer (I)")
        self.act_inside.setChecked(v.show_inside_step)
        self.colormap_group = QActionGroup(self)
        self.colormap_actions = {}
        for name, text in (("slate", "Slate (the theme's)"), ("viridis", "Viridis"), ("cividis", "Cividis")):
            a = act(text, lambda on, n=name: on and self.model.set_view("colormap", n), checkable=True,
                    tip="Shading of the heights; viridis and cividis stay readable on a washed-out projector"
                    if name != "slate" else "The theme's muted shading")
            self.colormap_group.addAction(a)
            self.colormap_actions[name] = a
        self.colormap_actions[v.colormap].setChecked(True)
        self.act_3d = act("3-D view", lambda on: self.model.set_view("mode", "3d" if on else "2d"), "3",
                          checkable=True, tip="Switch between the map and a 3-D view of the surface (3)")
        self.act_turntable = act("Turntable (3-D)", self._set_turntable, "O", checkable=True,
                                 tip="Turn the 3-D view slowly round the surface (O)")
        if not sh.gl_ok:
            for a in (self.act_3d, self.act_turntable):
                a.setEnabled(False)
                a.setToolTip(sh.gl_why)
                a.setStatusTip(sh.gl_why)
        self.act_classic = act("Classic six", lambda: self.model.preset("classic"))
        self.act_all = act("All optimizers", lambda: self.model.preset("all"))

    # -- layout -------------------------------------------------------------------------------
    def centre(self) -> QWidget:
        return self.stack

    def docks(self) -> list[DockSpec]:
        left, right = Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea
        # Short titles: the three left panels share one tab bar, which elides long ones.
        return [DockSpec("racers", "Racers", scrolled(self.racers_panel), left),
                DockSpec("surface", "Surface", scrolled(self.surface_panel), left, tab_with="racers"),
                DockSpec("leaderboard", "Leaderboard", self.leaderboard, right),
                DockSpec("loss", "Loss", self.loss_plot, right),
                DockSpec("grad", "Gradient norm", self.grad_plot, right),
                DockSpec("inspector", "Inspector", self.inspector, left, tab_with="surface")]

    def toolbar_actions(self):
        return [self.act_fit, self.act_fit_all, self.act_inside, self.act_theory, self.act_3d]

    def view_actions(self):
        return [("Colour map", list(self.colormap_actions.values())), self.act_3d, self.act_turntable,
                self.act_fit, self.act_fit_all, self.act_inside, self.act_theory]

    def menu_actions(self):
        return [self.act_classic, self.act_all]

    def layout_docks(self, w: int, h: int) -> None:
        docks, theme = self.shell.docks, self.shell.theme
        # A narrow projector (1024 px at 24 pt) has room for the map and the whole board only:
        # the loss curves fold away (the board ranks the same values), and come back with room.
        narrow = self.model.scenario.view.projector and w < NARROW_PX
        if narrow and not docks["loss"].isHidden():
            docks["loss"].hide()
            self._narrow_folded = True
        elif not narrow and self._narrow_folded:
            docks["loss"].show()
            self._narrow_folded = False
        rows = max(len(self.model.enabled_indices()), 3)
        board = int(min(0.45 * h if not narrow else h, (rows + 1.6) * theme.font_pt * 2.4))
        # Narrow windows keep the panels wide enough for their editors and table columns;
        # the map is limited by the height there anyway.
        left = max(int(0.2 * w), min(290, int(0.24 * w)))
        right = min(max(int(0.31 * w), self.leaderboard.essential_width(theme)), int(0.45 * w))
        self.shell.resizeDocks([docks["racers"], docks["leaderboard"]], [left, right], Qt.Horizontal)
        rest = max(h - board - 160, 200)
        plots = [docks[k] for k in ("loss", "grad") if docks[k].isVisible()] or [docks["loss"]]
        self.shell.resizeDocks([docks["leaderboard"], *plots], [board] + [rest // len(plots)] * len(plots),
                               Qt.Vertical)
        docks["racers"].raise_()

    # -- the race -----------------------------------------------------------------------------
    def preview(self) -> None:
        """The surface, the start and the racers waiting there, while the race kernel compiles
        (a user formula brings kernels of its own, seconds to compile: it waits for the race)."""
        if self.model.scenario.formula:
            return
        self._previewing = True
        self.on_frame(SurfaceSession(self.model, self._generation, waiting=True).frame(0, None))

    def start(self) -> None:
        self._previewing = False
        self.rebuild()
        self._update_theory()

    def rebuild(self) -> None:
        """A fresh race from the scenario, shown from step 0 (keeps playing if it was)."""
        if not self.shell.ready:
            if self._previewing:
                self.preview()  # the racers or the surface changed while the engine is prepared
            return
        self._generation += 1
        self.session = SurfaceSession(self.model, self._generation, self.history_capacity)
        self.shell.controller.set_session(self.session)

    def _restyle(self) -> None:
        if self.session is not None:
            self.session.restyle()

    def on_frame(self, frame) -> None:
        self._frames += 1
        self.surface_view.set_frame(frame)
        if self.view3d is not None and self.stack.currentWidget() is self.view3d:
            self.view3d.set_frame(frame)
        # Paused, everything follows at once.  While playing, the table follows every third
        # frame and each curve plot every sixth, on different frames (20 and 10 updates a
        # second are plenty to read; a plot of 16 curves costs several milliseconds to redraw),
        # a new race's first frame included: the map and the docks never redraw in one event.
        playing = self.shell.controller.playing
        n = self._frames
        if not playing or n % 3 == 0:
            show_board(self.leaderboard, frame)
        if not playing or n % 6 == 1:
            self.loss_feed.show(frame)
        if not playing or n % 6 == 4:
            self.grad_feed.show(frame)
        if frame.tail is None:
            # After a jump or a rebuild the map comes first; the step is explained in the next
            # event, so neither part blocks the window for long.
            self._explain_later.start()
        elif not playing or (n % INSPECT_EVERY == 0 and self._cheap_explain()):
            self._update_inside_step()

    def on_playing_changed(self, playing: bool) -> None:
        if not playing and self.shell.controller.frame is not None:
            self.on_frame(self.shell.controller.frame)  # the views thinned while playing catch up

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
        e = self.session.explain(r, self.shell.controller.k) if (r is not None and self.session) else None
        color = self.shell.controller.frame.looks[r].color if e is not None else None
        if e is not None:
            self.inspector.set_explained(e, self.session.racer_spec(r), color)
        else:
            self.inspector.set_explained(None, None)
        self.surface_view.set_inside_step(e if self.model.scenario.view.show_inside_step else None, color)

    def _update_theory(self) -> None:
        sc = self.model.scenario
        f = self.shell.controller.frame
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
        self.surface_view.set_theory(q.lines, "\n".join(lines))
        self.racers_panel.set_lr_marks(marks)

    def for_picture(self):
        return self.surface_view.whole_layers()

    # -- view settings ------------------------------------------------------------------------
    def themed(self) -> list:
        views = [self.surface_view, self.leaderboard, self.loss_plot, self.grad_plot, self.inspector]
        return views + ([self.view3d] if self.view3d is not None else [])

    def frozen_while_relayout(self) -> list[QWidget]:
        # Each redrew 36 thick curves at every intermediate size.
        return [self.loss_plot, self.grad_plot]

    def on_view_changed(self, name: str) -> None:
        v = self.model.scenario.view
        if name == "show_theory":
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
            self._set_3d(v.mode == "3d")
        elif name == "colormap":
            with QSignalBlocker(self.colormap_group):
                self.colormap_actions[v.colormap].setChecked(True)
            self.surface_view.set_colormap(v.colormap)
            if self.view3d is not None:
                self.view3d.set_colormap(v.colormap)

    def _set_3d(self, on: bool) -> None:
        if on and self.shell.gl_ok:
            if self.view3d is None:
                from ...views.surface3d import Surface3DView

                self.view3d = Surface3DView(self.shell.theme)
                self.view3d.set_colormap(self.model.scenario.view.colormap)
                self.view3d.set_turning(self.act_turntable.isChecked())
                self.stack.addWidget(self.view3d)
            self.stack.setCurrentWidget(self.view3d)
            if self.shell.controller.frame is not None:
                self.view3d.set_frame(self.shell.controller.frame)
        else:
            self.stack.setCurrentWidget(self.surface_view)
        with QSignalBlocker(self.act_3d):
            self.act_3d.setChecked(self.stack.currentWidget() is not self.surface_view)

    def _set_turntable(self, on: bool) -> None:
        if on and self.model.scenario.view.mode != "3d":
            self.model.set_view("mode", "3d")  # a turntable is only seen in 3-D
        if self.view3d is not None:
            self.view3d.set_turning(on)

    # -- files and exports --------------------------------------------------------------------
    def open(self, sc, path: str) -> None:
        """A scenario with a user formula is compiled in the background first (a formula new
        to this machine costs seconds of compiling)."""
        if not sc.formula:
            self.model.load(sc)
            return
        from ...formula.dialog import compile_in_background

        f = sc.formula
        kwargs = {"text": f["formula"], "params": f.get("params") or {}, "start": f.get("start"),
                  "minima": f.get("minima"), "name": f.get("name")}
        if f.get("domain"):
            kwargs["domain"] = f["domain"]
        progress = QProgressDialog("Compiling the scenario's formula (once per machine)…", "Cancel", 0, 0, self.shell)
        progress.setWindowTitle("Opening scenario")
        progress.setMinimumDuration(300)

        def done(surface, error):
            progress.close()
            if error is not None:
                QMessageBox.warning(self.shell, "Cannot open scenario", f"{path}: formula: {error}")
            else:
                self.model.load(sc, surface)

        self.formula_job = compile_in_background(kwargs, done, self)
        progress.canceled.connect(self.formula_job.abandon)

    def write_image(self, path: str) -> bool:
        """The current view as PNG, or the map as SVG (by the file's suffix), through a
        temporary file: never a half-written image."""
        svg = path.lower().endswith(".svg")
        if svg and self.stack.currentWidget() is not self.surface_view:
            QMessageBox.warning(self.shell, "Cannot save image", "SVG export covers the 2-D map; "
                                "switch the 3-D view off (key 3) or save a PNG.")
            return False
        buf = QBuffer()
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        with self.surface_view.whole_layers():
            if svg:
                ok = self._write_svg(buf)
            elif self.stack.currentWidget() is self.view3d:  # grab() leaves out what Qt paints over GL
                self.view3d.complete()
                ok = self.view3d.grabFramebuffer().save(buf, "PNG")
            else:
                ok = self.surface_view.grab().save(buf, "PNG")
        try:
            if ok:
                scenario_io.atomic_write(path, bytes(buf.data()))
        except OSError as e:
            ok = False
            QMessageBox.warning(self.shell, "Cannot save image", f"Could not write {path}: {e.strerror}")
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
        from ...export.dialog import export_video

        self.shell.controller.pause()
        path = export_video(self.shell, self.model.snapshot())
        if path:
            self.shell.statusBar().showMessage(f"Exported {path}", 8000)

    def export_data(self) -> None:
        from ...export.dialog import export_data

        path = export_data(self.shell, self.model.snapshot(), last=max(self.shell.controller.k, 1))
        if path:
            self.shell.statusBar().showMessage(f"Exported {path}", 8000)

    def shutdown(self) -> None:
        self._explain_later.stop()
        self.surface_view.shutdown()
        if self.view3d is not None:
            self.view3d.set_turning(False)
            self.view3d.shutdown()
