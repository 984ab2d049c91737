"""The one theme definition (light and dark) that every view and the video export draw with:
colours, colour map, line widths and font sizes, scaled up as a whole for projectors."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QGraphicsItem

THEMES = ("dark", "light")
# Okabe-Ito: distinguishable by colour-blind viewers and on a washed-out projector.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
# Head markers, by the racer's place among the enabled ones.
MARKERS = ("o", "s", "t", "d", "p", "h", "star", "t1", "+", "x")


@dataclass(frozen=True)
class Theme:
    name: str
    background: str  # plot background
    foreground: str  # axes, text
    panel: str  # window and dock background
    grid: str
    # Colour map stops, low loss to high: muted and nearly grey, lightness rising evenly, so
    # that the eight Okabe-Ito trail colours stand out on every part of the map.
    colormap: tuple[str, ...]
    minimum: str  # mark of a known minimum
    start: str  # the start marker
    outline: str  # halo drawn under trails and markers so they read on any background
    trail_halo: str = "#a0000000"  # #AARRGGBB under each trail, so it reads on any colour
    trail_width: float = 4.0
    head_size: float = 20.0
    curve_width: float = 3.0
    font_pt: int = 13  # base font of widgets
    axis_pt: int = 13  # tick labels
    label_pt: int = 14  # racer labels next to the heads
    title_pt: int = 16
    palette: tuple[str, ...] = PALETTE

    def scaled(self, s: float) -> "Theme":
        """The same theme with every line and font scaled by s (projector mode)."""
        return replace(self, trail_width=self.trail_width * s, head_size=self.head_size * s,
                       curve_width=self.curve_width * s, font_pt=round(self.font_pt * s),
                       axis_pt=round(self.axis_pt * s), label_pt=round(self.label_pt * s),
                       title_pt=round(self.title_pt * s))


DARK = Theme(
    name="dark", background="#14161c", foreground="#e8e8e8", panel="#1e2028", grid="#3a3d48",
    colormap=("#07090e", "#1c2536", "#3d4a60", "#6b7688"), minimum="#ffffff",
    start="#ffffff", outline="#000000",
)
LIGHT = Theme(
    name="light", background="#ffffff", foreground="#111111", panel="#f2f2f2", grid="#c8c8c8",
    colormap=("#8a93a3", "#b4bbc7", "#d9dde4", "#f7f8fa"), minimum="#000000",
    start="#000000", outline="#1a1a1a",
)
PROJECTOR_SCALE = 1.35


def get(name: str, projector: bool = False, scale: float = PROJECTOR_SCALE) -> Theme:
    """The theme; in projector mode scaled by ``scale`` (presenter mode's is larger)."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}; known: {', '.join(THEMES)}")
    t = DARK if name == "dark" else LIGHT
    return t.scaled(scale) if projector else t


def height_colormap(theme: Theme, name: str) -> pg.ColorMap:
    """The map's height shading: "slate" is the theme's own muted ramp; "viridis" and
    "cividis" are perceptually uniform and the same in both themes."""
    if name == "slate":
        return pg.ColorMap(np.linspace(0, 1, len(theme.colormap)), [QColor(c) for c in theme.colormap])
    return pg.colormap.get(name)


def luminance(c: QColor) -> float:
    """Relative luminance (WCAG) of a colour."""
    def lin(v):
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())


def style_axes(plot, theme: Theme, point_size: int, width: float) -> None:
    """Bottom and left axes of a pyqtgraph plot in the theme's foreground colour and font."""
    font = QFont()
    font.setPointSize(point_size)
    fm = QFontMetrics(font)
    for name in ("bottom", "left"):
        ax = plot.getAxis(name)
        ax.setPen(pg.mkPen(theme.foreground, width=width))
        ax.setTextPen(pg.mkPen(theme.foreground))
        ax.setTickFont(font)
        ax.label.setFont(font)
        # Room for tick labels from the font, not from the labels last drawn: sized by what it
        # drew, an axis resized its plot during the repaint after a font change, which then
        # repainted the whole window again (four times when projector mode was left).
        ax.setStyle(autoExpandTextSpace=False, tickTextWidth=fm.horizontalAdvance("−0.0001"),
                    tickTextHeight=fm.height())
        # Axes change only when their range does; cached as pixmaps they are copied, not
        # re-laid-out text, at every repaint of the plot (a third of a full window repaint).
        ax.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
