"""``optirace export`` and ``optirace export-all-lessons``: render scenarios to video files
without a screen, progress on stderr, a non-zero exit status with a clear message on failure."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from .encoder import FORMATS, ExportError

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class _Signals:
    """SIGINT and SIGTERM only set a flag that the export checks between frames: an exception
    raised from a signal handler could land inside a Qt paint callback, where PySide reports
    and swallows it."""

    def __init__(self):
        self.name: str | None = None

    def __call__(self, signum, frame) -> None:
        self.name = signal.Signals(signum).name

    def cancelled(self) -> bool:
        return self.name is not None


def size_type(min_w: int, min_h: int):
    """An argparse type for ``WxH`` sizes of at least min_w x min_h (window and frame sizes)."""

    def parse(text: str) -> tuple[int, int]:
        try:
            w, h = (int(e) for e in text.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"size must look like 1920x1080, got {text!r}") from None
        if w < min_w or h < min_h:
            raise argparse.ArgumentTypeError(f"size must be at least {min_w}x{min_h}, got {text!r}")
        return w, h

    return parse


_size = size_type(16, 16)


def _steps(text: str) -> tuple[int, int]:
    try:
        a, b = (int(e) for e in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"steps must look like 0:600, got {text!r}") from None
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError(f"steps A:B need 0 <= A < B, got {text!r}")
    return a, b


def _positive(kind):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return v
    return parse


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", dest="x_size", type=_size, metavar="WxH", help="frame size (default: the scenario's)")
    p.add_argument("--fps", dest="x_fps", type=_positive(int), metavar="N", help="frames per second")
    p.add_argument("--theme", dest="x_theme", choices=("light", "dark"), help="colour theme")
    p.add_argument("--quiet", dest="x_quiet", action="store_true", help="no progress on stderr")


def add_export_parsers(sub) -> None:
    """Add the export subcommands to the ``optirace`` subparsers."""
    fmts = ", ".join(f"{f.suffix or 'folder'} ({f.name})" for f in FORMATS)
    p = sub.add_parser("export", help="render a scenario to a video file (no screen needed)",
                       description=f"Render a scenario frame by frame to a video. Formats: {fmts}.")
    p.add_argument("scenario", nargs="?", metavar="SCENARIO.toml", help="scenario file")
    p.add_argument("--lesson", dest="x_lesson", metavar="ID", help="a built-in lesson instead of a file")
    p.add_argument("-o", "--output", dest="x_output", required=True, metavar="OUT",
                   help="OUT.mp4, OUT.webm or OUT.gif (or a folder with --format png)")
    p.add_argument("--format", dest="x_format", choices=[f.id for f in FORMATS],
                   help="output format (default: from the extension)")
    p.add_argument("--steps", dest="x_steps", type=_steps, metavar="A:B", help="step range to show")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--steps-per-frame", dest="x_spf", type=_positive(int), metavar="K")
    group.add_argument("--duration", dest="x_duration", type=_positive(float), metavar="SECONDS",
                       help="choose the steps per frame so the race lasts about this long")
    p.add_argument("--title", dest="x_title", metavar="TEXT", help="title overlay (default: the scenario's)")
    p.add_argument("--caption", dest="x_caption", metavar="TEXT", help="caption overlay (default: the scenario's)")
    p.add_argument("--hold", dest="x_hold", type=float, metavar="SECONDS", help="hold the last frame this long")
    _common(p)
    p.set_defaults(run=run_export)

    q = sub.add_parser("export-all-lessons", help="render every built-in lesson into a folder",
                       description="Render every built-in lesson to DIR/ID.mp4 (or another format).")
    q.add_argument("directory", metavar="DIR")
    q.add_argument("--format", dest="x_format", choices=[f.id for f in FORMATS if f.suffix], default="mp4")
    q.add_argument("--duration", dest="x_duration", type=_positive(float), metavar="SECONDS",
                   help="make each race last about this long (default: each lesson's own pacing)")
    q.add_argument("--hold", dest="x_hold", type=float, metavar="SECONDS", help="hold the last frame this long")
    _common(q)
    q.set_defaults(run=run_all_lessons)


def _headless() -> None:
    """Exports never show a window: without a display, use Qt's offscreen platform."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _quiet_qt(mode, context, message) -> None:
    # The offscreen platform warns about window hints that mean nothing without a screen.
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def _app():
    _headless()
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_quiet_qt)
    return QApplication.instance() or QApplication(sys.argv[:1])


class _Reporter:
    """Progress lines on stderr: rewritten in place on a terminal, one every few seconds otherwise."""

    def __init__(self, name: str, quiet: bool):
        self.name = name
        self.quiet = quiet
        # Under pythonw (a GUI script on Windows) there is no stderr at all.
        self.tty = sys.stderr is not None and sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, pr) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if not self.tty and now - self._last < 2.0 and not pr.finishing:
            return
        self._last = now
        rate = pr.done / pr.elapsed if pr.elapsed > 0 else 0.0
        left = f", {pr.remaining:.0f} s left" if pr.remaining is not None and not pr.finishing else ""
        tail = " - writing the file" if pr.finishing else ""
        msg = f"{self.name}: frame {pr.done}/{pr.total} ({100 * pr.fraction:.0f}%), {rate:.1f} frames/s{left}{tail}"
        print(("\r" + msg + "\033[K") if self.tty else msg, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def done(self, path: Path, seconds: float) -> None:
        if self.tty and not self.quiet:
            print(file=sys.stderr)
        print(f"{self.name}: wrote {path} in {seconds:.1f} s", file=sys.stderr)


def _export_one(sc, output, args, name: str, signals: _Signals, **over) -> Path:
    from .job import ExportJob, settings_for
    from .render import VIDEO_MODES

    if sc.mode not in VIDEO_MODES:
        raise ExportError(f"{name}: video export of the {sc.mode!r} mode is not built yet "
                          f"(it exports: {', '.join(VIDEO_MODES)}); File > Export image saves a picture of it")

    settings = settings_for(sc, output, format=getattr(args, "x_format", None), size=args.x_size,
                            fps=args.x_fps, theme=args.x_theme, **over)
    job = ExportJob(sc, settings)  # checks the target before anything renders
    if job.note:
        print(f"{name}: note: {job.note}", file=sys.stderr)
    report = _Reporter(name, args.x_quiet)
    t0 = time.perf_counter()
    path = job.run(progress=report, cancelled=signals.cancelled)
    report.done(path, time.perf_counter() - t0)
    return path


def _guarded(body) -> int:
    from engine.scenario import ScenarioError

    signals = _Signals()
    old = {s: signal.signal(s, signals) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = body(signals)
        if signals.cancelled():
            raise ExportError("interrupted")
        return code
    except (ExportError, ScenarioError, OSError) as e:
        if signals.cancelled():
            print(f"\noptirace: interrupted ({signals.name}); no file was written", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"optirace: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # an encoder or renderer failure: say what, never a bare traceback
        print(f"optirace: error: export failed: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_export(args) -> int:
    from engine import scenario as io

    from .lessons import load_lesson

    def body(signals: _Signals) -> int:
        if (args.scenario is None) == (args.x_lesson is None):
            raise ExportError("give either a SCENARIO.toml file or --lesson ID")
        sc = load_lesson(args.x_lesson) if args.x_lesson else io.load(args.scenario)
        first, last = args.x_steps if args.x_steps else (None, None)
        _app()
        _export_one(sc, args.x_output, args, Path(args.x_output).name, signals, first=first, last=last,
                    steps_per_frame=args.x_spf, duration=args.x_duration, title=args.x_title,
                    caption=args.x_caption, hold_last=args.x_hold)
        return 0

    return _guarded(body)


def run_all_lessons(args) -> int:
    from .encoder import get_format
    from .render import VIDEO_MODES
    from .lessons import lesson_ids, load_lesson

    def body(signals: _Signals) -> int:
        folder = Path(args.directory)
        if not folder.is_dir():
            raise ExportError(f"{folder}: no such folder")
        ids = lesson_ids()
        if not ids:
            raise ExportError("no lessons are installed")
        _app()
        suffix = get_format(args.x_format).suffix
        for id in ids:
            if signals.cancelled():
                break
            sc = load_lesson(id)
            if sc.mode not in VIDEO_MODES:
                print(f"{id}: skipped: video export of the {sc.mode!r} mode is not built yet", file=sys.stderr)
                continue
            _export_one(sc, folder / f"{id}{suffix}", args, id, signals, duration=args.x_duration,
                        hold_last=args.x_hold)
        return 0

    return _guarded(body)
