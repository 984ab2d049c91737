"""The offscreen canvas an export draws on: the window's own views (surface map, leaderboard,
loss plot) with the window's theme, laid out at the target size and rendered into an array."""
from __future__ import annotations

import numpy as np
import shiboken6
from PySide6.QtCore import QPoint, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QStyleFactory, QVBoxLayout, QWidget

from app.modes.surface_race.feeds import CurveFeed, show_board
from app.theme import Theme
from app.views.curves import CurvePlot
from app.views.leaderboard import Leaderboard
from app.views.surface_view import SurfaceView

# Every frame is laid out at this logical height and scaled to the output, so a 4K video
# looks like the 1080p one at twice the resolution, not like a tiny window in a big frame.
LOGICAL_HEIGHT = 1080


def theme_palette(theme: Theme) -> QPalette:
    """The window's palette for a theme (the window applies it to the whole application; an
    export sets it on its own canvas, so exporting in the other theme leaves the window alone)."""
    pal = QPalette()
    bg, fg, base = QColor(theme.panel), QColor(theme.foreground), QColor(theme.background)
    for role, c in ((QPalette.Window, bg), (QPalette.WindowText, fg), (QPalette.Base, base),
                    (QPalette.AlternateBase, bg), (QPalette.Text, fg), (QPalette.Button, bg),
                    (QPalette.ButtonText, fg), (QPalette.Highlight, QColor("#0072B2")),
                    (QPalette.HighlightedText, QColor("#ffffff"))):
        pal.setColor(role, c)
    return pal


class CanvasBase(QWidget):
    """A frame of a video: the title, a mode's views (``_body``), the caption, laid out at the
    output size; ``render_array`` paints it into a (H, W, 4) uint8 array in Qt's 32-bit layout
    (B, G, R, 255 on little-endian).  Each mode's canvas says what ``_body`` holds and how
    ``set_frame`` feeds it."""

    def __init__(self, theme: Theme, size: tuple[int, int], title: str = "", caption: str = "", **body):
        super().__init__()
        self.theme = t = theme
        self.out_size = (int(size[0]), int(size[1]))
        self.scale = self.out_size[1] / LOGICAL_HEIGHT
        self.setAttribute(Qt.WA_DontShowOnScreen)
        self.setAutoFillBackground(True)
        self.setPalette(theme_palette(t))
        font = QFont(self.font())
        font.setPointSize(t.font_pt)
        self.setFont(font)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 14, 24, 14)
        outer.setSpacing(10)
        if title:
            outer.addWidget(self._label(title, int(t.title_pt * 2.2), bold=True))
        outer.addLayout(self._body(**body), 1)
        if caption:
            outer.addWidget(self._label(caption, int(t.font_pt * 1.6)))
        # Axes are the dearest part of a frame (tick labels and grid lines replayed from a QPicture
        # on every paint: about 60% of the render time at 1080p); cached as pixmaps they are redrawn
        # only when their range changes.  The pixels are the same to within 1 level.
        for plot in self._cached_plots():
            for axis in plot.axes.values():
                axis["item"].setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self._style = QStyleFactory.create("Fusion")  # the window's style, whatever the platform's
        for w in (self, *self.findChildren(QWidget)):
            w.setStyle(self._style)
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

    def render_array(self) -> np.ndarray:
        """The canvas as it stands, at the output size: a new (H, W, 4) uint8 array."""
        img = self._image
        img.fill(QColor(self.theme.panel))
        p = QPainter(img)
        self.render(p, QPoint(0, 0))
        self._paint_extra(p)
        p.end()
        w, h = self.out_size
        bpl = img.bytesPerLine()
        a = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl // 4, 4)
        return a[:, :w].copy()

    def dispose(self) -> None:
        """Close and destroy now: with a deferred delete, queued layout events would still reach
        the views and restart their timers."""
        self.close()
        shiboken6.delete(self)

    def _body(self, **options) -> QHBoxLayout:
        """Build the views (keyword arguments of the constructor beyond the caption)."""
        raise NotImplementedError

    def _cached_plots(self) -> list:
        """The PlotItems whose axes are cached as pixmaps."""
        return []

    def set_frame(self, frame) -> None:
        raise NotImplementedError

    def _paint_extra(self, p: QPainter) -> None:
        """Whatever ``QWidget.render`` leaves blank (an OpenGL view)."""


class Canvas(CanvasBase):
    """The surface race: title, the surface view, leaderboard and loss plot, caption."""

    def __init__(self, theme: Theme, size: tuple[int, int], title: str = "", caption: str = "",
                 three_d: bool = False):
        super().__init__(theme, size, title, caption, three_d=three_d)

    @classmethod
    def for_scenario(cls, scenario, theme: Theme, size, title: str, caption: str) -> "Canvas":
        c = cls(theme, size, title, caption, three_d=scenario.view.mode == "3d")
        c.surface.set_colormap(scenario.view.colormap)
        return c

    def _body(self, three_d: bool) -> QHBoxLayout:
        t = self.theme
        self.three_d = three_d
        if three_d:  # needs OpenGL (gl.gl_available): a display, not the offscreen platform
            from app.views.surface3d import Surface3DView

            self.surface = Surface3DView(t)
        else:
            self.surface = SurfaceView(t)
            self.surface.background.complete = self.surface.trails.complete = True  # see whole_layers
        self.board = Leaderboard(t)
        self.loss = CurvePlot(t)
        self.loss_feed = CurveFeed(self.loss, "loss")
        row = QHBoxLayout()
        row.setSpacing(14)
        row.addWidget(self.surface, 3)
        side = QVBoxLayout()
        side.setSpacing(10)
        side.addWidget(self.board, 1)
        side.addWidget(self.loss, 1)
        row.addLayout(side, 2)
        return row

    def _cached_plots(self) -> list:
        views = (self.loss,) if self.three_d else (self.surface, self.loss)
        return [v.getPlotItem() for v in views]

    def set_frame(self, frame) -> None:
        self.surface.set_frame(frame)
        show_board(self.board, frame)
        self.loss_feed.show(frame)

    def _paint_extra(self, p: QPainter) -> None:
        if self.three_d:
            # QWidget.render leaves an OpenGL view blank: its own framebuffer goes in its place.
            view = self.surface
            p.drawImage(QRectF(view.mapTo(self, QPoint(0, 0)), QSizeF(view.size())), view.grabFramebuffer())

    def map_to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """Output pixel (column, row) where the surface view draws the data point (x, y)."""
        p = self.surface.vb.mapViewToScene(QPointF(x, y))
        p = self.surface.viewportTransform().map(p)
        off = self.surface.viewport().mapTo(self, QPoint(0, 0))
        return ((p.x() + off.x()) * self.scale, (p.y() + off.y()) * self.scale)
