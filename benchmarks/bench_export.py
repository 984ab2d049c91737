"""Export speed: frames per second of the whole export (rendering overlapped with encoding),
next to rendering alone and encoding alone, measured in the same run.

Targets (issue 4): 1080p H.264 at 30 fps at least real time (>= 30 frames/s, rendering
included) on 2 cores; GIF at 720p >= 10 frames/s (both palette passes included).

    .venv/bin/python benchmarks/bench_export.py [--frames N] [--quick]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtWidgets import QApplication  # noqa: E402

from app import theme as themes  # noqa: E402
from app.export import encoder as E  # noqa: E402
from app.export.canvas import Canvas  # noqa: E402
from app.export.job import ExportJob, settings_for  # noqa: E402
from app.export.lessons import load_lesson  # noqa: E402
from app.export.render import FrameSource  # noqa: E402

LESSON = "classic_six_beale"


def render_only(sc, size, steps, keep=30):
    """Rendering alone (step -> set_frame -> render to an array), nothing encoded: frames per
    second of wall time, and CPU milliseconds per frame of the rendering thread (what it would
    cost on a free core).  Keeps the last ``keep`` frames to feed the encoder afterwards."""
    src = FrameSource(sc)
    canvas = Canvas(themes.get(sc.view.theme), size, sc.title, sc.caption)
    canvas.set_frame(src.frame_at(steps[0]))
    canvas.render_array()  # first paint builds caches; not what a long export pays per frame
    images, wall, cpu = [], [], []
    for k in steps[1:]:
        t, c = time.perf_counter(), time.thread_time()
        canvas.set_frame(src.frame_at(k))
        img = canvas.render_array()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - t)
        images = (images + [img])[-keep:]
    canvas.dispose()
    src.close()
    return images, len(wall) / sum(wall), statistics.median(cpu)


def encode_only(images, n, fmt, size, fps, folder):
    """Frames per second of the encoder alone, fed n already rendered frames (cycled)."""
    path = Path(folder) / f"encode_only{fmt.suffix}"
    t = time.perf_counter()
    w = E.ThreadedWriter(E.open_writer(path, fmt, size, fps))
    for i in range(n):
        w.write(images[i % len(images)])
    w.close()
    return n / (time.perf_counter() - t)


def full_export(sc, fmt_suffix, size, fps, frames, folder):
    """The export as the CLI runs it, start-up (race, canvas, first paint) excluded."""
    s = settings_for(sc, Path(folder) / f"full{fmt_suffix}", size=size, fps=fps, first=0,
                     last=frames * 4, steps_per_frame=4, hold_last=0)
    job = ExportJob(sc, s)
    job.start()
    job.step()  # first frame: kernels, surface sampling, caches
    t = time.perf_counter()
    while job.step():
        pass
    job.finish()
    path = job.result()
    dt = time.perf_counter() - t
    return (job.total - 1) / dt, path.stat().st_size


def case(sc, label, suffix, size, fps, frames, folder, target):
    steps = list(range(0, frames * 4 + 1, 4))
    images, render_fps, render_cpu = render_only(sc, size, steps)
    enc_fps = encode_only(images, frames, E.format_for("x" + suffix), size, fps, folder)
    del images
    full_fps, nbytes = full_export(sc, suffix, size, fps, frames, folder)
    verdict = f"{'meets' if full_fps >= target else 'MISSES'} >= {target} f/s; " if target else ""
    print(f"{label:24s} render alone {render_fps:5.1f} f/s ({1000 * render_cpu:4.1f} ms CPU per frame)  "
          f"encode alone {enc_fps:5.1f} f/s  whole export {full_fps:5.1f} f/s = {full_fps / fps:4.2f}x real time  "
          f"({verdict}{nbytes / 1e6:.1f} MB for {frames} frames)", flush=True)
    return full_fps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--quick", action="store_true", help="only the two targets")
    args = ap.parse_args()
    QApplication.instance() or QApplication([])
    sc = load_lesson(LESSON)
    print(f"lesson {LESSON}, {len(sc.racers)} racers, {args.frames} frames per case, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        case(sc, "H.264 1920x1080 30 fps", ".mp4", (1920, 1080), 30, args.frames, folder, 30)
        case(sc, "GIF 1280x720 15 fps", ".gif", (1280, 720), 15, args.frames, folder, 10)
        if not args.quick:
            case(sc, "H.264 1280x720 30 fps", ".mp4", (1280, 720), 30, args.frames, folder, 30)
            case(sc, "VP9 1920x1080 30 fps", ".webm", (1920, 1080), 30, args.frames, folder, 0)
            case(sc, "H.264 3840x2160 30 fps", ".mp4", (3840, 2160), 30, args.frames // 3, folder, 0)
    print(f"load average at the end {os.getloadavg()[0]:.2f} (other processes on these cores slow every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
