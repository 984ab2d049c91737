"""The offscreen canvas an export draws on: the window's own views (surface map, leaderboard,
loss plot) laid out at the target size and rendered into an array, one frame at a time."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.theme import Theme

from engine.race import STATUS_NAMES

# Every frame is laid out at this logical height and scaled to the output, so a 4K video
# looks like the 1080p one at twice the resolution, not like a tiny window in a big frame.
LOGICAL_HEIGHT = 1080
_ORDER = {"finished": 0, "racing": 1, "converged elsewhere": 2, "escaped": 3, "diverged": 4}


def status_rank(frame, r: int) -> tuple:
    """Sort key for the leaderboard: finishers by finishing step, then the rest by loss."""
    name = STATUS_NAMES[int(frame.status[r])]
    loss = float(frame.loss[r])
    return (_ORDER[name], int(frame.status_step[r]) if name == "finished" else 0,
            loss if np.isfinite(loss) else np.inf, r)


def _views():
    """The window's views, or None when they are not available (the export scene stands in)."""
    try:
        from app.views.curves import CurvePlot
        from app.views.surface_view import SurfaceView
    except ImportError:
        return None
    try:
        from app.views.leaderboard import Leaderboard
    except ImportError:
        Leaderboard = None
    return SurfaceView, CurvePlot, Leaderboard


class Canvas(QWidget):
    """Title, the surface view, leaderboard and loss plot, caption; ``render_array`` paints it
    into a (H, W, 4) uint8 array in Qt's 32-bit layout (B, G, R, 255 on little-endian)."""

    def __init__(self, theme: Theme, size: tuple[int, int], title: str = "", caption: str = "",
                 use_views: bool = True):
        super().__init__()
        self.theme = t = theme
        self.out_size = (int(size[0]), int(size[1]))
        self.scale = self.out_size[1] / LOGICAL_HEIGHT
        self.setAttribute(Qt.WA_DontShowOnScreen)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(self.backgroundRole(), QColor(t.panel))
        pal.setColor(self.foregroundRole(), QColor(t.foreground))
        self.setPalette(pal)
        views = _views() if use_views else None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 14, 24, 14)
        outer.setSpacing(10)
        if title:
            outer.addWidget(self._label(title, int(t.title_pt * 2.2), bold=True))
        if views is None:
            from .scene import ExportScene

            self.body = ExportScene(t)
            self.surface, self.board, self.loss = self.body.plot, self.body.board, self.body.loss
            self.views = False
            outer.addWidget(self.body, 1)
        else:
            from .scene import _Leaderboard

            SurfaceView, CurvePlot, Leaderboard = views
            self.views = True
            self.surface = SurfaceView(t)
            self.board = Leaderboard(t) if Leaderboard is not None else _Leaderboard(t)
            self.loss = CurvePlot("loss", t)
            row = QHBoxLayout()
            row.setSpacing(14)
            row.addWidget(self.surface, 3)
            side = QVBoxLayout()
            side.setSpacing(10)
            side.addWidget(self.board, 1)
            side.addWidget(self.loss, 1)
            row.addLayout(side, 2)
            outer.addLayout(row, 1)
        if caption:
            outer.addWidget(self._label(caption, int(t.font_pt * 1.6)))
        w, h = self.out_size
        self.resize(max(1, round(w / self.scale)), LOGICAL_HEIGHT)
        self.show()  # never on screen (WA_DontShowOnScreen); lays the children out
        self._image = QImage(w, h, QImage.Format_RGB32)
        self._image.setDevicePixelRatio(self.scale)

    def _label(self, text: str, px: int, bold: bool = False) -> QLabel:
        lab = QLabel(text)
        lab.setWordWrap(True)
        f = QFont(lab.font())
        f.setPixelSize(px)
        f.setBold(bold)
        lab.setFont(f)
        lab.setStyleSheet(f"color: {self.theme.foreground}; background: transparent;")
        return lab

    def set_frame(self, frame) -> None:
        if self.views:
            self.surface.set_frame(frame)
            self.board.set_frame(frame)
            self.loss.set_frame(frame)
        else:
            self.body.set_frame(frame)

    def render_array(self) -> np.ndarray:
        """The canvas as it stands, at the output size: a new (H, W, 4) uint8 array."""
        img = self._image
        img.fill(QColor(self.theme.panel))
        p = QPainter(img)
        self.render(p, QPoint(0, 0))
        p.end()
        w, h = self.out_size
        bpl = img.bytesPerLine()
        a = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl // 4, 4)
        return a[:, :w].copy()

    def map_to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """Output pixel (column, row) where the surface view draws the data point (x, y)."""
        vb = self.surface.getViewBox() if hasattr(self.surface, "getViewBox") else self.surface.vb
        p = vb.mapViewToScene(QPointF(x, y))
        p = self.surface.viewportTransform().map(p)
        off = self.surface.viewport().mapTo(self, QPoint(0, 0))
        return ((p.x() + off.x()) * self.scale, (p.y() + off.y()) * self.scale)
