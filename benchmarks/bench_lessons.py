"""The lesson library's times: ``optirace check-lessons`` (every lesson on 5 seeds; targets: at
most 30 s a lesson and 10 minutes for the library on 2 cores) and, with ``--export``,
``optirace export-all-lessons`` (every lesson rendered to a video).

Run: .venv/bin/python benchmarks/bench_lessons.py [--export]

Each command runs in a fresh process, as a teacher or a course author runs it; the kernels come
from numba's cache (run it once before to compile them).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LESSON_BUDGET, LIBRARY_BUDGET = 30.0, 600.0


def optirace(*args: str) -> tuple[float, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"optirace {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return time.perf_counter() - t, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", action="store_true", help="also time export-all-lessons (minutes)")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    wall, out = optirace("check-lessons")
    times = {m[1]: float(m[2]) for m in re.finditer(r"^(\S+): ok.*\((\d+\.\d) s\)$", out, re.M)}
    slow = max(times, key=times.get)
    print(f"check-lessons: {len(times)} lessons in {wall:.1f} s wall (target {LIBRARY_BUDGET:.0f} s); "
          f"slowest {slow} {times[slow]:.1f} s (target {LESSON_BUDGET:.0f} s)")
    for id, s in sorted(times.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {id:36s} {s:5.1f} s")
    if args.export:
        with tempfile.TemporaryDirectory() as folder:
            wall, _ = optirace("export-all-lessons", folder, "--quiet")
            videos = list(Path(folder).glob("*.mp4"))
            size = sum(v.stat().st_size for v in videos) / 1e6
        print(f"export-all-lessons: {len(videos)} videos ({size:.0f} MB) in {wall:.0f} s wall")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
