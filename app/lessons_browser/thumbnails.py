"""Lesson thumbnails: one frame of the lesson itself (its last step: the whole race) drawn
by its video canvas at a small size, cached as PNG in the user's cache folder under a hash of
the lesson file's bytes and the app's version.  The window never renders one: ``Thumbnails``
runs ``optirace thumbnails`` in a process of its own, from the shared worker."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtGui import QImage, QPixmap

from engine import scenario as io

from ..shell.worker import Worker

SIZE = (480, 270)
FORMAT_VERSION = 1  # bumped when the picture's layout changes, so old thumbnails are redrawn


def app_version() -> str:
    try:
        return metadata.version("optirace")
    except metadata.PackageNotFoundError:
        return "0"


def cache_dir() -> Path:
    """The thumbnails' folder in the user's cache (OPTIRACE_CACHE_DIR overrides the cache)."""
    env = os.environ.get("OPTIRACE_CACHE_DIR")
    base = Path(env) if env else Path(QStandardPaths.writableLocation(QStandardPaths.CacheLocation))
    return base / "thumbnails"


def cached_path(lesson: Path, theme: str) -> Path:
    h = hashlib.sha256(Path(lesson).read_bytes())
    h.update(f"|{app_version()}|{FORMAT_VERSION}|{theme}|{SIZE}".encode())
    return cache_dir() / f"{h.hexdigest()[:32]}.png"


def picture_step(sc) -> int:
    """The step a lesson's thumbnail shows: its last, where the trails and curves are whole."""
    return sc.export.last


def render(lesson: Path, theme_name: str) -> Path:
    """Draw the lesson's thumbnail into the cache (needs a QApplication on this thread) and
    return its file; the PNG is written beside and renamed, never seen half-written."""
    from .. import theme as themes
    from ..export.render import video_mode

    sc = io.load(lesson)
    video = video_mode(sc.mode)
    if sc.mode == "surface":
        sc.view.mode = "2d"  # a thumbnail needs no OpenGL
    source = video.make_source(sc)
    canvas = video.make_canvas(sc, themes.get(theme_name), SIZE, "", "")
    try:
        canvas.set_frame(source.frame_at(picture_step(sc)))
        a = canvas.render_array()
    finally:
        source.close()
        canvas.dispose()
    h, w = a.shape[:2]
    image = QImage(a.data, w, h, a.strides[0], QImage.Format_RGB32)
    out = cached_path(lesson, theme_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    if not image.save(str(tmp), "PNG"):
        raise OSError(f"cannot write {tmp}")
    os.replace(tmp, out)
    return out


# -- ``optirace thumbnails``: the process the window starts -------------------------------------
def add_parser(sub) -> None:
    p = sub.add_parser("thumbnails", help="draw lesson thumbnails into the cache (the lesson browser runs it)")
    p.add_argument("files", nargs="+", metavar="LESSON.toml")
    p.add_argument("--theme", choices=("light", "dark"), default="dark")
    p.set_defaults(run=run)


def run(args) -> int:
    """One line per file on stdout, ``ok FILE`` or ``error FILE: why``, as each is done."""
    from ..export.cli import _app

    _app()
    bad = 0
    for f in args.files:
        try:
            render(Path(f), args.theme)
            print(f"ok {f}", flush=True)
        except Exception as e:  # one bad lesson must not cost the others their pictures
            bad += 1
            print(f"error {f}: {e}", flush=True)
    return 1 if bad else 0


class Thumbnails(QObject):
    """The thumbnails of lessons in one theme: ``get`` returns a cached one at once, or None and
    asks for it; ``ready(path of the lesson)`` says when one is there.  One process at a
    time draws every missing one; ``renders`` counts the lessons sent to it."""

    ready = Signal(str)
    failed = Signal(str, str)  # lesson file, why

    def __init__(self, theme: str, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.renders = 0
        self.bad: dict[str, str] = {}  # lesson file -> why it could not be drawn
        self.worker: Worker | None = None
        self._wanted: list[Path] = []
        self._drawing: list[Path] = []  # what the running process draws, in its order
        self._errors: list[str] = []  # filled by the worker's thread, read once it has ended
        self._proc: subprocess.Popen | None = None
        self._closed = False  # after shutdown (the window closing) nothing starts again

    def get(self, lesson: Path) -> QPixmap | None:
        try:
            path = cached_path(lesson, self.theme)
        except OSError:
            return None
        if path.is_file():
            pix = QPixmap(str(path))
            if not pix.isNull():
                return pix
        if lesson not in self._wanted and str(lesson) not in self.bad:
            self._wanted.append(Path(lesson))
        self._start()
        return None

    def set_theme(self, theme: str) -> None:
        self.theme = theme

    def _start(self) -> None:
        if self.worker is not None or not self._wanted or self._closed:
            return
        files, self._wanted = self._wanted, []
        theme = self.theme
        self.renders += len(files)
        self._drawing = files
        self.worker = Worker(lambda job: self._draw(job, files, theme), "thumbnails", self)
        self.worker.progress.connect(self._done_one)  # a method of this object: on the GUI thread
        for sig in (self.worker.finished, self.worker.failed, self.worker.cancelled):
            sig.connect(self._ended)
        self.worker.start()

    def _draw(self, job, files: list[Path], theme: str) -> None:
        env = dict(os.environ)
        if sys.platform.startswith("linux"):
            env["QT_QPA_PLATFORM"] = "offscreen"  # the process draws, it shows nothing
        root = Path(__file__).resolve().parents[2]  # the same app as this one (a checkout too)
        cmd = [sys.executable, "-m", "app", "thumbnails", "--theme", theme, *map(str, files)]
        self._proc = proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, text=True)
        if job.cancelled:  # shutdown came before the process was there to kill
            proc.kill()
        done = 0
        for line in proc.stdout:
            if job.cancelled:
                break
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "error":
                self._errors.append(rest)
            done += kind in ("ok", "error")
            job.progress(done, len(files))
        if job.cancelled:
            proc.kill()
        proc.wait()

    def _done_one(self, done: int, total: int) -> None:
        lesson = self._drawing[done - 1]
        if cached_path(lesson, self.theme).is_file():  # a failed one is reported at the end
            self.ready.emit(str(lesson))

    def _ended(self, *_) -> None:
        self.worker = self._proc = None
        for err in self._errors:
            path, _, why = err.partition(": ")
            self.bad[path] = why
            self.failed.emit(path, why)
        self._errors.clear()
        self._start()

    def shutdown(self) -> None:
        """Stop drawing for good (the process is killed) and wait for the worker's thread."""
        self._closed = True
        self._wanted.clear()
        w = self.worker
        if w is not None:
            w.cancel()
            if self._proc is not None:
                self._proc.kill()
            w.wait()
            self.worker = None
