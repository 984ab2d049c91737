"""The surface in 3-D (pyqtgraph.opengl): the loss on its display scale as a coloured mesh,
each racer's path lying on it and its head as a dot.  Needs OpenGL (not on the offscreen
platform); the main window only builds it when a context can be created."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from PySide6.QtGui import QColor

from ..theme import Theme
from . import surface_image

GRID_3D = 120
MAX_PATH = 1500  # points per racer path
HEIGHT = 0.45  # the surface's height as a share of the domain's width


class Surface3DView(gl.GLViewWidget):
    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.frame = None
        self._key = None
        self.mesh = None
        self.paths: list[gl.GLLinePlotItem] = []
        self.heads = gl.GLScatterPlotItem(pxMode=True)
        self.heads.setGLOptions("translucent")
        self.addItem(self.heads)
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackgroundColor(QColor(theme.background))
        self._key = None
        if self.frame is not None:
            self.set_frame(self.frame)

    def _to_z(self, f: np.ndarray) -> np.ndarray:
        lo, hi = self.scale.levels
        z = (self.scale.apply(np.asarray(f, dtype=float)) - lo) / (hi - lo)
        return np.clip(z, -0.05, 1.2) * self._zh

    def _set_surface(self, surface) -> None:
        self.scale = surface_image.scale_for(surface)
        (x0, x1), (y0, y1) = surface.spec.domain
        img = surface_image.sample(surface, self.scale, (x0, x1), (y0, y1), GRID_3D)
        self._center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        self._span = max(x1 - x0, y1 - y0)
        self._zh = HEIGHT * self._span
        lo, hi = self.scale.levels
        t = np.clip((img.z - lo) / (hi - lo), 0, 1)
        stops = self.theme.colormap
        cmap = pg.ColorMap(np.linspace(0, 1, len(stops)), [QColor(c) for c in stops])
        colors = cmap.map(t.T.ravel(), mode="float").reshape(t.shape[1], t.shape[0], 4)
        z = t.T * self._zh
        colors[..., :3] *= _shade(z, img.xs, img.ys)[..., None]
        if self.mesh is not None:
            self.removeItem(self.mesh)
        self.mesh = gl.GLSurfacePlotItem(x=img.xs - self._center[0], y=img.ys - self._center[1], z=z,
                                         colors=colors, shader=None, smooth=True)
        self.mesh.setGLOptions("opaque")
        self.addItem(self.mesh)
        self.setCameraPosition(distance=self._span * 1.9, elevation=32, azimuth=-60)

    def set_frame(self, frame) -> None:
        self.frame = frame
        key = (frame.surface.spec.id, frame.surface.params.tobytes())
        if key != self._key:
            self._key = key
            self._set_surface(frame.surface)
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
        if R:
            cols = np.array([QColor(lk.color).getRgbF() for lk in frame.looks])
            self.heads.setData(pos=np.array(heads), color=cols, size=self.theme.head_size)
        else:
            self.heads.setData(pos=np.zeros((0, 3)))


LIGHT_FROM = np.array([-0.45, -0.55, 0.70]) / np.linalg.norm([-0.45, -0.55, 0.70])


def _shade(z: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Diffuse light on the mesh z (nx, ny) from the upper left: the colour map alone left
    the shape unreadable where it is pale (the light theme, a projector)."""
    gx = np.gradient(z, xs, axis=0)
    gy = np.gradient(z, ys, axis=1)
    n = np.stack([-gx, -gy, np.ones_like(z)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return 0.5 + 0.5 * np.clip(n @ LIGHT_FROM, 0.0, 1.0)
