"""Whether OpenGL views (the 3-D view) can run on this display platform, and if not, why."""
from __future__ import annotations

from PySide6.QtWidgets import QApplication


def gl_available() -> tuple[bool, str]:
    """Whether OpenGL views (3-D) can run here, and if not, why."""
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
