"""The surface in 3-D (pyqtgraph.opengl): the loss on its display scale as a coloured mesh
over a floor with its iso-lines, framed by axes with ticks, each racer's path lying on it
and its head as a named dot; fitted to the viewport, and turning slowly on request.  Needs
OpenGL (not on the offscreen platform); the main window only builds it when it can."""
from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QVector3D

from ..shell.worker import Worker
from ..theme import Theme, height_colormap, luminance
from . import contours, label_layout, surface_image
from .leaderboard import ranking

GRID_3D = 120
MAX_PATH = 1500  # points per racer path
HEIGHT = 0.45  # the surface's height as a share of the domain's width
FLOOR = -0.12  # the floor with the iso-lines, below the lowest colour, as a share of the height
FILL = 0.95  # the surface's box fills this share of the viewport's narrower side
TURN_DEG = 0.3  # turntable: degrees per tick of 33 ms, a full turn in about 40 s
# Drawn over the mesh whatever their depth: a head behind a hill stays visible.
ON_TOP = {GL.GL_DEPTH_TEST: False, GL.GL_BLEND: True, "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)}


def nice_ticks(lo: float, hi: float, most: int = 6) -> np.ndarray:
    """Round values (1, 2 or 5 times a power of ten apart) between lo and hi."""
    raw = (hi - lo) / most
    p = 10 ** np.floor(np.log10(raw))
    step = next(m * p for m in (1, 2, 5, 10) if m * p >= raw)
    return np.arange(np.ceil(lo / step), np.floor(hi / step) + 1) * step


class Surface3DView(gl.GLViewWidget):
    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.colormap = "slate"
        self.frame = None
        self._key = None
        self.mesh = None
        self.floor = gl.GLLinePlotItem(mode="lines", antialias=True)
        self.addItem(self.floor)
        self.frame_lines = gl.GLLinePlotItem(mode="lines", antialias=True)
        self.addItem(self.frame_lines)
        self.texts: list[gl.GLTextItem] = []  # tick labels and axis titles
        self.paths: list[gl.GLLinePlotItem] = []
        self.halos = gl.GLScatterPlotItem(pxMode=True, glOptions=ON_TOP)
        self.heads = gl.GLScatterPlotItem(pxMode=True, glOptions=ON_TOP)
        self.addItem(self.halos)
        self.addItem(self.heads)
        self._head_pos: list[np.ndarray] = []  # heads in the scene, for their name tags
        self.turntable = QTimer(self)
        self.turntable.setInterval(33)
        self.turntable.timeout.connect(lambda: self.orbit(-TURN_DEG, 0))
        self._turning = False
        self._job = None  # the Worker sampling a new surface
        self.set_theme(theme)

    # -- settings -----------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackgroundColor(QColor(theme.background))
        self._key = None
        if self.frame is not None:
            self.set_frame(self.frame)

    def set_colormap(self, name: str) -> None:
        self.colormap = name
        self._key = None
        if self.frame is not None:
            self.set_frame(self.frame)

    def set_turning(self, on: bool) -> None:
        """A slow turntable: the camera circles the surface while the view is shown."""
        self._turning = on
        if self.mesh is not None:
            self.fit()
        if on and self.isVisible():
            self.turntable.start()
        else:
            self.turntable.stop()

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self._turning:
            self.turntable.start()

    def hideEvent(self, ev) -> None:
        self.turntable.stop()
        super().hideEvent(ev)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if self.mesh is not None:
            self.fit()

    # -- the surface, floor and axes ------------------------------------------------------------
    def _to_z(self, f: np.ndarray) -> np.ndarray:
        lo, hi = self.scale.levels
        z = (self.scale.apply(np.asarray(f, dtype=float)) - lo) / (hi - lo)
        return np.clip(z, -0.05, 1.2) * self._zh

    @property
    def sampling(self) -> bool:
        """A new surface's samples are on their way from the worker."""
        return self._job is not None

    def _request_surface(self, surface) -> None:
        """Sample the surface in the worker (on screen), or here (a picture for a file)."""
        if self.window().testAttribute(Qt.WA_DontShowOnScreen):
            self._job = None  # a worker still running delivers a result no longer wanted
            self._set_surface(*_sample(surface))
            return
        worker = Worker(lambda job: _sample(surface), "3d-sampling", self)
        self._job = worker
        worker.finished.connect(lambda result: self._sampled_in_worker(worker, result))
        worker.failed.connect(lambda message: self._sampled_in_worker(worker, None))
        worker.start()

    def _sampled_in_worker(self, worker, result) -> None:
        worker.deleteLater()
        if self._job is not worker:
            return  # a newer surface was asked for, or it was sampled in this thread meanwhile
        self._job = None
        if result is not None:
            self._set_surface(*result)
            self.set_frame(self.frame)

    def complete(self) -> None:
        """Show the current surface whole now, sampling it here if the worker has not delivered
        it yet (a picture for a file)."""
        if self._job is not None and self.frame is not None:
            self._job = None
            self._set_surface(*_sample(self.frame.surface))
            self.set_frame(self.frame)

    def shutdown(self) -> None:
        """Wait for a sampling under way."""
        if self._job is not None:
            self._job.wait()
            self._job = None

    def _set_surface(self, scale, img) -> None:
        self.scale = scale
        x0, x1, y0, y1 = img.xs[0], img.xs[-1], img.ys[0], img.ys[-1]
        self._center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        self._span = max(x1 - x0, y1 - y0)
        self._zh = HEIGHT * self._span
        self._box = (x0, x1, y0, y1)
        lo, hi = self.scale.levels
        t = np.clip((img.z - lo) / (hi - lo), 0, 1)
        cmap = height_colormap(self.theme, self.colormap)
        colors = cmap.map(t.T.ravel(), mode="float").reshape(t.shape[1], t.shape[0], 4)
        z = t.T * self._zh
        colors[..., :3] *= _shade(z, img.xs, img.ys)[..., None]
        if self.mesh is not None:
            self.removeItem(self.mesh)
        self.mesh = gl.GLSurfacePlotItem(x=img.xs - self._center[0], y=img.ys - self._center[1], z=z,
                                         colors=colors, shader=None, smooth=True)
        self.mesh.setGLOptions("opaque")
        self.addItem(self.mesh)
        self._floor(img, cmap)
        self._axes()
        self.opts["center"] = QVector3D(0.0, 0.0, 0.5 * (FLOOR + 1.0) * self._zh)
        self.setCameraPosition(elevation=28, azimuth=-60)
        self.fit()

    def _floor(self, img, cmap) -> None:
        """The iso-lines of the map on the floor, each in its height's colour."""
        lo, hi = self.scale.levels
        segs, cols = [], []
        for lv in self.scale.contours:
            s = contours.segments(img.xs, img.ys, img.z, [lv])
            segs.append(s)
            cols.append(np.tile(cmap.map((lv - lo) / (hi - lo), mode="float"), (len(s), 1)))
        seg = np.concatenate(segs) - self._center
        pos = np.column_stack([seg, np.full(len(seg), FLOOR * self._zh)])
        col = np.concatenate(cols)
        col[:, 3] = 0.9
        self.floor.setData(pos=pos, color=col, width=max(1.0, self.theme.trail_width / 2.5))

    def _axes(self) -> None:
        """A frame on the floor and a height post, ticks with labels, and axis titles."""
        for t in self.texts:
            self.removeItem(t)
        self.texts = []
        x0, x1, y0, y1 = self._box
        cx, cy = self._center
        zf, zh = FLOOR * self._zh, self._zh
        tick = 0.03 * self._span
        lines = [((x0, y0, zf), (x1, y0, zf)), ((x1, y0, zf), (x1, y1, zf)), ((x0, y0, zf), (x0, y1, zf)),
                 ((x0, y1, zf), (x1, y1, zf)), ((x0, y0, zf), (x0, y0, zh))]
        font = QFont()
        font.setPointSize(self.theme.axis_pt)
        fg = QColor(self.theme.foreground)
        for v in nice_ticks(x0, x1):
            lines.append(((v, y0, zf), (v, y0 - tick, zf)))
            self._text((v, y0 - 2.5 * tick, zf), _num(v), font, fg, Qt.AlignHCenter | Qt.AlignTop)
        for v in nice_ticks(y0, y1):
            lines.append(((x1, v, zf), (x1 + tick, v, zf)))
            self._text((x1 + 2 * tick, v, zf), _num(v), font, fg, Qt.AlignLeft | Qt.AlignVCenter)
        lo, hi = self.scale.levels
        for zv, label in self.scale.ticks(5):
            z = (zv - lo) / (hi - lo) * zh
            lines.append(((x0, y0, z), (x0 - tick, y0 - tick, z)))
            self._text((x0 - 2 * tick, y0 - 2 * tick, z), label, font, fg, Qt.AlignRight | Qt.AlignVCenter)
        title = QFont(font)
        title.setBold(True)
        self._text(((x0 + x1) / 2, y0 - 6 * tick, zf), "x", title, fg, Qt.AlignHCenter | Qt.AlignTop)
        self._text((x1 + 6 * tick, (y0 + y1) / 2, zf), "y", title, fg, Qt.AlignLeft | Qt.AlignVCenter)
        bounded = self.frame is None or self.frame.surface.bounded_below
        self._text((x0, y0, zh * 1.12), "f − f*  (log)" if bounded else "f  (sym. log)", title, fg,
                   Qt.AlignHCenter | Qt.AlignBottom)
        pts = np.array(lines, dtype=float).reshape(-1, 3) - (cx, cy, 0.0)
        c = QColor(self.theme.foreground)
        self.frame_lines.setData(pos=pts, color=(c.redF(), c.greenF(), c.blueF(), 0.85), width=1.5)

    def _text(self, pos, text: str, font: QFont, color: QColor, align) -> None:
        p = np.array(pos, dtype=float) - (*self._center, 0.0)
        item = gl.GLTextItem(pos=p, text=text, font=font, color=color, alignment=align)
        self.addItem(item)
        self.texts.append(item)

    def fit(self) -> None:
        """The camera distance at which the surface's box fills FILL of the viewport, seen
        from this azimuth, or from any while the turntable turns (so it never crops it)."""
        x0, x1, y0, y1 = self._box
        hx, hy = (x1 - x0) / 2, (y1 - y0) / 2
        corners = np.array([(sx * hx, sy * hy, z) for sx in (-1, 1) for sy in (-1, 1)
                            for z in (FLOOR * self._zh, 1.15 * self._zh)])
        # Titles and tick labels stand outside the box: the fit takes a margin for them.
        corners[:, :2] *= 1.1
        w, h = max(self.width(), 1), max(self.height(), 1)
        azimuth = self.opts["azimuth"]
        worst = self._span
        for az in (np.arange(0, 360, 30) if self._turning else (azimuth,)):
            self.opts["azimuth"] = az
            d = self._span * 2.0
            for _ in range(4):  # the extent scales about as 1/distance: converges in a few rounds
                self.opts["distance"] = d
                m = self.projectionMatrix((0, 0, w, h), (0, 0, w, h)) * self.viewMatrix()
                ndc = np.array([[m.map(QVector3D(*c)).x(), m.map(QVector3D(*c)).y()] for c in corners])
                d *= np.abs(ndc).max() / FILL
            worst = max(worst, d)
        self.opts["azimuth"] = azimuth
        self.opts["distance"] = worst
        self.update()

    # -- the race -------------------------------------------------------------------------------
    def set_frame(self, frame) -> None:
        self.frame = frame
        key = (frame.surface.spec.id, frame.surface.params.tobytes())
        if key != self._key:
            self._key = key
            self._request_surface(frame.surface)
        if self._job is not None:
            return  # the paths lie on the new surface: drawn when its samples arrive
        R = frame.n_racers
        while len(self.paths) < R:
            item = gl.GLLinePlotItem(width=self.theme.trail_width, antialias=True, mode="line_strip")
            self.addItem(item)
            self.paths.append(item)
        while len(self.paths) > R:
            self.removeItem(self.paths.pop())
        hist = frame.history
        n = hist.count_upto(frame.step)
        idx = np.unique(np.linspace(0, max(n - 1, 0), min(n, MAX_PATH)).astype(int)) if n else np.zeros(0, int)
        lift = 0.01 * self._zh
        heads = []
        for r, item in enumerate(self.paths):
            xy = np.concatenate([hist["pos"][r, idx], frame.heads[r:r + 1]]) - self._center
            f = np.concatenate([hist["loss"][r, idx], frame.loss[r:r + 1]])
            pts = np.column_stack([xy, self._to_z(f) + lift])
            pts = pts[np.all(np.isfinite(pts), axis=1)]
            pts[:, :2] = np.clip(pts[:, :2], -self._span, self._span)
            item.setData(pos=pts, color=QColor(frame.looks[r].color), width=self.theme.trail_width)
            heads.append(pts[-1] if len(pts) else np.zeros(3))
        self._head_pos = heads
        if R:
            cols = np.array([QColor(lk.color).getRgbF() for lk in frame.looks])
            out = QColor(self.theme.outline).getRgbF()
            self.halos.setData(pos=np.array(heads), color=out, size=self.theme.head_size * 1.3 + 5)
            self.heads.setData(pos=np.array(heads), color=cols, size=self.theme.head_size * 1.3)
        else:
            self.halos.setData(pos=np.zeros((0, 3)))
            self.heads.setData(pos=np.zeros((0, 3)))

    def paintGL(self) -> None:
        super().paintGL()
        if self.frame is not None and self.frame.n_racers and self.mesh is not None:
            self._paint_names()

    def _paint_names(self) -> None:
        """Each racer's name as a tag in its colour, placed as on the map: beside its head,
        never over another tag or a head; a crowd gets a stacked legend with leader lines."""
        f, t = self.frame, self.theme
        m = self.projectionMatrix((0, 0, self.width(), self.height()), (0, 0, self.width(), self.height())) \
            * self.viewMatrix()
        heads = []
        for p in self._head_pos:
            q = m.map(QVector3D(*p))
            heads.append(((q.x() + 1) / 2 * self.width(), (1 - q.y()) / 2 * self.height()))
        heads = np.array(heads)
        font = QFont()
        font.setPointSize(t.label_pt)
        font.setBold(True)
        fm = QFontMetrics(font)
        pad = 4
        sizes = np.array([[fm.horizontalAdvance(lk.name) + 2 * pad, fm.height() + pad] for lk in f.looks], dtype=float)
        hs = 0.65 * t.head_size * 1.3 + 3
        obstacles = np.column_stack([heads - hs, heads + hs])
        corners, far = label_layout.place(heads, sizes, ranking(f.status, f.status_step, f.loss), obstacles,
                                          (0.0, 0.0, float(self.width()), float(self.height())), gap=hs + 6)
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.setFont(font)
        p.setPen(QPen(QColor(t.foreground), 1.5))
        for r in np.flatnonzero(far):
            near = np.clip(heads[r], corners[r], corners[r] + sizes[r])
            p.drawLine(QPointF(*heads[r]), QPointF(*near))
        for lk, c, size in zip(f.looks, corners, sizes):
            fill = QColor(lk.color)
            p.setBrush(fill)
            p.setPen(QPen(QColor(t.outline), 1))
            rect = QRectF(c[0], c[1], size[0], size[1])
            p.drawRect(rect)
            p.setPen(QColor("#000000" if luminance(fill) > 0.35 else "#ffffff"))
            p.drawText(rect, Qt.AlignCenter, lk.name)
        p.end()


def _sample(surface):
    """The surface's colour scale and its heights on the 3-D grid over its whole domain."""
    scale = surface_image.scale_for(surface)
    (x0, x1), (y0, y1) = surface.spec.domain
    return scale, surface_image.sample(surface, scale, (x0, x1), (y0, y1), GRID_3D)


def _num(v: float) -> str:
    return f"{v:g}".replace("-", "−")


LIGHT_FROM = np.array([-0.45, -0.55, 0.70]) / np.linalg.norm([-0.45, -0.55, 0.70])


def _shade(z: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Diffuse light on the mesh z (nx, ny) from the upper left: the colour map alone left
    the shape unreadable where it is pale (the light theme, a projector)."""
    gx = np.gradient(z, xs, axis=0)
    gy = np.gradient(z, ys, axis=1)
    n = np.stack([-gx, -gy, np.ones_like(z)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return 0.5 + 0.5 * np.clip(n @ LIGHT_FROM, 0.0, 1.0)
