"""Base of the map's cached layers: an image in screen pixels, drawn again only when its
content or the view changes, and then a few milliseconds per paint.  While the view is
moving (zoom, pan, resize, panels folding away) the last image is stretched to the new view
and drawn again once the view has settled: one rebuild per gesture, not one per step of it."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QWidget

SETTLE_MS = 120  # the view counts as settled after this long without a change


class ScreenLayer(pg.GraphicsObject):
    """Subclasses draw into ``self._image`` for the data-to-pixel transform ``self._tr``:
    ``_start`` begins a drawing, ``_continue(budget_s)`` goes on with it (all of it when the
    budget is None) while ``busy``, and ``_extend`` adds new content to a finished image."""

    image_format = QImage.Format_ARGB32_Premultiplied
    budget_s = 0.005  # drawing time per paint on screen while busy
    # Every paint complete, never stretched nor spread (an export's frames): a view painted
    # into an image through QWidget.render still reports its widget as the paint device.
    complete = False

    def __init__(self, viewbox: pg.ViewBox):
        super().__init__()
        self.vb = viewbox
        self._image: QImage | None = None
        self._key = None  # (transform, device size) the image is drawn for; None: content changed
        self._tr = None
        self._more = QTimer(self)
        self._more.setSingleShot(True)
        self._more.setInterval(0)
        self._more.timeout.connect(self.update)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.update)
        viewbox.sigTransformChanged.connect(self._view_changed)
        viewbox.sigResized.connect(self._view_changed)

    # -- subclass hooks ----------------------------------------------------------------------
    def has_content(self) -> bool:
        return True

    @property
    def busy(self) -> bool:
        return False

    def _start(self) -> None:
        raise NotImplementedError

    def _continue(self, budget_s: float | None) -> None:
        """Go on drawing while ``busy``, for about ``budget_s`` (None: to the end)."""

    def _extend(self) -> None:
        """Add what is new since the last paint to a finished image."""

    # -- caching -----------------------------------------------------------------------------
    def invalidate(self) -> None:
        """The content changed: draw it again at the next paint."""
        self._key = None
        self.update()

    def _view_changed(self, *args) -> None:
        self.prepareGeometryChange()
        self._settle.start()
        self.update()

    def boundingRect(self) -> QRectF:
        return self.vb.viewRect()

    def paint(self, p: QPainter, *args) -> None:
        if not self.has_content():
            return
        tr = p.transform()
        dev = p.device()
        w, h = dev.width(), dev.height()
        if w <= 0 or h <= 0:
            return
        on_screen = isinstance(dev, QWidget) and not self.complete
        key = (tr.m11(), tr.m12(), tr.m21(), tr.m22(), tr.dx(), tr.dy(), w, h)
        if key != self._key or self._image is None:
            if on_screen and self._key is not None and self._image is not None and self._settle.isActive():
                # The view is moving: this image, mapped from its old view to the new one.
                inverse, ok = self._tr.inverted()
                if ok:
                    p.save()
                    p.setTransform(inverse * tr)
                    p.drawImage(0, 0, self._image)
                    p.restore()
                    return
            if self._image is None or self._image.width() != w or self._image.height() != h:
                self._image = QImage(w, h, self.image_format)
            self._tr = tr
            self._key = key
            self._start()
        if self.busy:
            # On screen the drawing is spread over paints; for a file (``complete``) it is
            # finished in this one.
            self._continue(self.budget_s if on_screen else None)
            if self.busy:
                self._more.start()
        if not self.busy:
            self._extend()
        p.save()
        p.resetTransform()
        p.drawImage(0, 0, self._image)
        p.restore()
