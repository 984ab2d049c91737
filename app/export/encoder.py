"""Video writers over PyAV: MP4 (H.264), WebM (VP9), GIF (palettegen + paletteuse) and PNG
sequences, each written beside the target under a hidden temporary name and renamed at the end."""
from __future__ import annotations

import glob
import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# Frames arrive as Qt's native 32-bit layout (QImage.Format_RGB32 is B, G, R, X in memory on
# little-endian machines); swscale converts in the encoding thread, not on the GUI thread.
INPUT_FORMAT = "bgra"


class ExportError(RuntimeError):
    """An export cannot start or failed; the message says what to change."""


@dataclass(frozen=True)
class Format:
    id: str
    name: str
    suffix: str  # "" for a folder of images
    codec: str
    pix_fmt: str
    codec_options: dict = field(default_factory=dict)
    container_options: dict = field(default_factory=dict)
    even_size: bool = False  # 4:2:0 chroma needs even width and height
    bytes_per_pixel: float = 0.1  # rough output size, for the free-space check


FORMATS: tuple[Format, ...] = (
    # On race frames (flat colours, thin lines) at 1080p and CRF 20, superfast took 15 ms of CPU
    # per frame against 31 ms for veryfast, at a slightly better PSNR (36.9 dB vs 35.7 dB; 4:2:0
    # chroma on thin coloured lines bounds both) and twice the bytes (about 8 Mbit/s at 30 fps):
    # the speed leaves a core for rendering.  faststart puts the index first (PowerPoint, browsers).
    Format("mp4", "MP4 video (H.264)", ".mp4", "libx264", "yuv420p",
           {"crf": "20", "preset": "superfast"}, {"movflags": "+faststart"}, even_size=True,
           bytes_per_pixel=0.05),
    Format("webm", "WebM video (VP9)", ".webm", "libvpx-vp9", "yuv420p",
           {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
           even_size=True, bytes_per_pixel=0.05),
    Format("gif", "GIF animation (optimised palette)", ".gif", "gif", "pal8", bytes_per_pixel=0.5),
    Format("png", "PNG image sequence (folder)", "", "png", "rgb24", bytes_per_pixel=1.5),
)
_BY_ID = {f.id: f for f in FORMATS}
_BY_SUFFIX = {f.suffix: f for f in FORMATS if f.suffix}


def get_format(id: str) -> Format:
    try:
        return _BY_ID[id]
    except KeyError:
        raise ExportError(f"unknown format {id!r}; known: {', '.join(_BY_ID)}") from None


def format_for(path: str | os.PathLike, fmt: str | None = None) -> Format:
    """The format named by ``fmt`` or by the file's extension (a PNG sequence is a folder)."""
    if fmt:
        return get_format(fmt)
    suffix = Path(path).suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    known = ", ".join(_BY_SUFFIX)
    raise ExportError(f"{path}: unknown extension {suffix or '(none)'!r}; use one of {known} "
                      "(or choose the PNG sequence format for a folder of images)")


def gif_rate(fps: int) -> Fraction:
    """The frame rate a GIF really plays at: its delays are whole hundredths of a second."""
    return Fraction(100, max(2, round(100 / fps)))


def check_target(path: str | os.PathLike, fmt: Format, size: tuple[int, int], frames: int,
                 overwrite: bool = True) -> Path:
    """Everything that can be known before rendering: raise ExportError naming the problem."""
    path = Path(path).expanduser().absolute()
    w, h = size
    if w < 16 or h < 16:
        raise ExportError(f"size {w}x{h} is too small; use at least 16x16")
    if fmt.even_size and (w % 2 or h % 2):
        raise ExportError(f"{fmt.name} needs an even width and height (4:2:0 colour), got {w}x{h}; "
                          f"try {w + w % 2}x{h + h % 2}")
    if frames < 1:
        raise ExportError("nothing to export: the step range gives no frames")
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"{path}: the folder {folder} does not exist")
    try:
        # Ask the file system itself: permissions, read-only mounts and quotas all show here.
        fd, probe = tempfile.mkstemp(prefix=".optirace-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ExportError(f"{path}: cannot write in the folder {folder}: {e.strerror}") from None
    if path.is_dir() and fmt.suffix:
        raise ExportError(f"{path} is a folder; give a file name ending in {fmt.suffix}")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists already")
    if not fmt.suffix and path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ExportError(f"{path}: a PNG sequence needs a new or empty folder")
    need = int(w * h * frames * fmt.bytes_per_pixel) + (w * h * 4 * frames if fmt.id == "gif" else 0)
    free = shutil.disk_usage(folder).free
    if need > free:
        raise ExportError(f"{path}: not enough disk space: about {need / 1e6:.0f} MB needed, "
                          f"{free / 1e6:.0f} MB free in {folder}")
    return path


class Writer:
    """Takes frames (H, W, 4) uint8 in INPUT_FORMAT; ``close`` renames into place, ``abort``
    removes every trace.  Use as a context manager: an exception aborts."""

    def __init__(self, path: str | os.PathLike, fmt: Format, size: tuple[int, int], fps: int):
        self.path = Path(path)
        self.fmt = fmt
        self.size = (int(size[0]), int(size[1]))
        self.fps = int(fps)
        self.frames = 0
        self.stop = threading.Event()  # set to abandon a long final pass (the GIF palette pass)
        self._done = False

    def write(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        if (w, h) != self.size or image.shape[2:] != (4,) or image.dtype != np.uint8:
            raise ExportError(f"frame {self.frames} is {w}x{h} {image.dtype} {image.shape[2:]}, "
                              f"expected {self.size[0]}x{self.size[1]} uint8 (4 channels)")
        self._write(image)
        self.frames += 1

    def close(self) -> Path:
        if self._done:
            return self.path
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.path

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _frame(self, image: np.ndarray, pts: int) -> av.VideoFrame:
        f = av.VideoFrame.from_ndarray(image, format=INPUT_FORMAT)
        f.pts = pts
        f.time_base = Fraction(1, self.fps)
        return f

    def _write(self, image: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _discard(self) -> None:
        raise NotImplementedError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# A hidden part of this target untouched for this long belongs to an export that was killed
# (a live one writes every frame, a PNG folder gains a file every frame).
STALE_PART_S = 3600


def sweep_stale_parts(path: Path) -> list[Path]:
    """Remove the hidden ``.NAME.*.part`` files and folders a killed export of ``path`` left;
    returns what was removed.  Parts of exports still running are recent and stay."""
    gone = []
    now = time.time()
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        try:
            if now - part.stat().st_mtime < STALE_PART_S:
                continue
            shutil.rmtree(part) if part.is_dir() else part.unlink()
            gone.append(part)
        except OSError:
            pass  # someone else's or already gone: never a reason to fail an export
    return gone


def _temp_file(path: Path) -> Path:
    sweep_stale_parts(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the video is an ordinary file
    return Path(tmp)


class _FileWriter(Writer):
    """A single output file: a hidden ``.NAME.XXXX.part`` beside the target until it is whole."""

    def __init__(self, path, fmt, size, fps):
        super().__init__(path, fmt, size, fps)
        self._tmp = _temp_file(self.path)

    def _finish(self) -> None:
        self._close_container()
        os.replace(self._tmp, self.path)

    def _discard(self) -> None:
        try:
            self._close_container()
        except Exception:
            pass  # the file is being thrown away; a muxer error on it changes nothing
        self._tmp.unlink(missing_ok=True)

    def _close_container(self) -> None:
        raise NotImplementedError


class VideoWriter(_FileWriter):
    """MP4 and WebM: one PyAV stream, frames converted to yuv420p by the encoder."""

    def __init__(self, path, fmt, size, fps):
        super().__init__(path, fmt, size, fps)
        try:
            self._c = av.open(str(self._tmp), "w", format=fmt.id, options=dict(fmt.container_options))
            self._s = self._c.add_stream(fmt.codec, rate=self.fps, options=dict(fmt.codec_options))
            self._s.width, self._s.height = self.size
            self._s.pix_fmt = fmt.pix_fmt
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise

    def _write(self, image):
        for p in self._s.encode(self._frame(image, self.frames)):
            self._c.mux(p)

    def _finish(self):
        for p in self._s.encode(None):
            self._c.mux(p)
        super()._finish()

    def _close_container(self):
        if self._c is not None:
            c, self._c = self._c, None
            c.close()


class GifWriter(_FileWriter):
    """Two passes over the clip: palettegen sees every frame (spooled to an unnamed temporary
    file, so memory stays flat), then paletteuse maps each frame to that palette with dithering.
    Converting to pal8 directly fails in PyAV, and one graph with split would hold the whole
    clip in memory until the palette is known."""

    def __init__(self, path, fmt, size, fps):
        super().__init__(path, fmt, size, fps)
        self._spool = tempfile.TemporaryFile(dir=self.path.parent)
        self._c = None
        w, h = self.size
        self._pg = av.filter.Graph()
        self._pg_src = self._pg.add_buffer(width=w, height=h, format=INPUT_FORMAT, time_base=Fraction(1, fps))
        gen = self._pg.add("palettegen", "stats_mode=full")
        self._pg_sink = self._pg.add("buffersink")
        self._pg_src.link_to(gen)
        gen.link_to(self._pg_sink)
        self._pg.configure()

    def _write(self, image):
        image = image.copy()
        image[..., 3] = 255  # GIF transparency would come from alpha: frames are opaque
        self._pg_src.push(self._frame(image, self.frames))
        self._spool.write(image.data)

    def _finish(self):
        self._pg_src.push(None)
        palette = self._pg_sink.pull()
        w, h = self.size
        tb = Fraction(1, self.fps)
        g = av.filter.Graph()
        src = g.add_buffer(width=w, height=h, format=INPUT_FORMAT, time_base=tb, name="frames")
        pal = g.add_buffer(width=palette.width, height=palette.height, format=palette.format,
                           time_base=tb, name="palette")
        use = g.add("paletteuse", "dither=sierra2_4a:diff_mode=rectangle")
        sink = g.add("buffersink")
        src.link_to(use, 0, 0)
        pal.link_to(use, 0, 1)
        use.link_to(sink)
        g.configure()
        palette.pts = 0
        pal.push(palette)
        pal.push(None)
        self._c = av.open(str(self._tmp), "w", format="gif")
        self._rate = gif_rate(self.fps)
        self._out = 0
        s = self._c.add_stream(self.fmt.codec, rate=self._rate)
        s.width, s.height = self.size
        s.pix_fmt = self.fmt.pix_fmt
        self._spool.seek(0)
        nbytes = w * h * 4
        for i in range(self.frames):
            buf = self._spool.read(nbytes)
            if self.stop.is_set():
                raise ExportError("the export was cancelled")
            src.push(self._frame(np.frombuffer(buf, np.uint8).reshape(h, w, 4), i))
            self._drain(sink, s)
        src.push(None)
        self._drain(sink, s)
        for p in s.encode(None):
            self._c.mux(p)
        super()._finish()

    def _drain(self, sink, stream):
        while True:
            try:
                frame = sink.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            frame.pts = self._out  # frames count at the GIF's own rate (whole hundredths)
            frame.time_base = 1 / self._rate
            self._out += 1
            for p in stream.encode(frame):
                self._c.mux(p)

    def _close_container(self):
        self._spool.close()
        if self._c is not None:
            c, self._c = self._c, None
            c.close()


class PngWriter(Writer):
    """A folder of ``frame_00000.png`` files, built in a hidden folder and renamed at the end."""

    def __init__(self, path, fmt, size, fps):
        super().__init__(path, fmt, size, fps)
        sweep_stale_parts(self.path)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent))
        os.chmod(self._tmp, 0o777 & ~_umask())

    def _write(self, image):
        frame = self._frame(image, self.frames).reformat(format=self.fmt.pix_fmt)
        cc = av.CodecContext.create(self.fmt.codec, "w")
        cc.width, cc.height, cc.pix_fmt = frame.width, frame.height, self.fmt.pix_fmt
        data = b"".join(bytes(p) for p in [*cc.encode(frame), *cc.encode(None)])
        (self._tmp / f"frame_{self.frames:05d}.png").write_bytes(data)

    def _finish(self):
        if self.path.is_dir():
            self.path.rmdir()  # check_target allowed only an empty folder
        os.replace(self._tmp, self.path)

    def _discard(self):
        shutil.rmtree(self._tmp, ignore_errors=True)


def open_writer(path: str | os.PathLike, fmt: Format, size: tuple[int, int], fps: int) -> Writer:
    cls = {"gif": GifWriter, "png": PngWriter}.get(fmt.id, VideoWriter)
    return cls(Path(path).expanduser().absolute(), fmt, size, fps)


class ThreadedWriter:
    """Encodes in a worker thread while the caller renders the next frame (PyAV releases the
    GIL while encoding and converting).  At most ``depth`` frames wait.  ``finish`` hands the
    final pass (flushing, the GIF palette pass, the rename) to the worker too, so a GUI can
    poll ``done`` instead of blocking; ``wait`` returns the path or raises the encoder's error."""

    _FINISH = object()

    def __init__(self, writer: Writer, depth: int = 3):
        self.writer = writer
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._result: Path | None = None
        self._delivered = False  # wait() has handed the finished path out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="export-encoder", daemon=True)
        self._thread.start()

    @property
    def frames(self) -> int:
        return self.writer.frames

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def ready(self) -> bool:
        """True when ``write`` will not wait (lets a GUI timer skip a tick instead of blocking)."""
        return not self._q.full()

    def write(self, image: np.ndarray) -> None:
        self._put(image)

    def finish(self) -> None:
        self._put(self._FINISH)

    def wait(self) -> Path:
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise ExportError("the export was cancelled")
        self._delivered = True
        return self._result

    def close(self) -> Path:
        self.finish()
        return self.wait()

    def abort(self) -> None:
        self._stop.set()
        self.writer.stop.set()
        while self._thread.is_alive():
            try:
                self._q.get_nowait()  # unblock a worker waiting on a full queue
            except queue.Empty:
                pass
            try:
                self._q.put_nowait(None)
            except queue.Full:
                pass
            self._thread.join(0.05)
        self.writer.abort()
        if self._result is not None and not self._delivered:
            # Finished just before the cancel, and nobody has the path yet: a cancel leaves nothing.
            done, self._result = self._result, None
            shutil.rmtree(done) if done.is_dir() else done.unlink(missing_ok=True)

    def _put(self, item) -> None:
        while True:
            if self._error is not None or not self._thread.is_alive():
                self.wait()  # raises the encoder's error
                raise ExportError("the encoder has stopped")
            try:
                self._q.put(item, timeout=0.05)
                return
            except queue.Full:
                continue  # the encoder may have failed meanwhile: check again

    def _run(self):
        try:
            while not self._stop.is_set():
                item = self._q.get()
                if item is None:
                    break
                if item is self._FINISH:
                    self._result = self.writer.close()
                    return
                self.writer.write(item)
        except BaseException as e:
            self._error = e
        self.writer.abort()
