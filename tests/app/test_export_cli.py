"""``python -m app export`` in a subprocess without a screen: exit 0 with a video, or non-zero
with a clear message and no file; an interrupted export leaves nothing behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from app.export.lessons import lesson_ids, load_lesson
from app.export.render import VIDEO_MODES

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--size", "320x180", "--fps", "10", "--hold", "0"]


def headless_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def optirace(*args, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          cwd=ROOT, env=headless_env(), timeout=timeout)


def frame_count(path: Path) -> tuple[int, tuple[int, int], float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return n, (s.codec_context.width, s.codec_context.height), float(s.average_rate)


def test_export_a_lesson_without_a_screen(tmp_path):
    out = tmp_path / "beale.mp4"
    r = optirace("export", "--lesson", "classic_six_beale", "-o", str(out), "--steps", "0:40",
                 "--steps-per-frame", "10", *SMALL)
    assert r.returncode == 0, r.stderr
    assert frame_count(out) == (5, (320, 180), 10.0)
    assert "frame 5/5" in r.stderr and f"wrote {out}" in r.stderr


def test_export_a_scenario_file_to_gif_with_a_target_duration(tmp_path):
    lesson = ROOT / "resources" / "lessons" / "saddle_escape.toml"
    out = tmp_path / "saddle.gif"
    r = optirace("export", str(lesson), "-o", str(out), "--steps", "0:100", "--duration", "0.5",
                 "--theme", "light", *SMALL)
    assert r.returncode == 0, r.stderr
    n, size, rate = frame_count(out)
    assert (n, size, rate) == (5, (320, 180), 10.0)


@pytest.mark.parametrize("args,message", [
    (["-o", "{d}/a.avi"], "unknown extension '.avi'"),
    (["-o", "{d}/a.mp4", "--size", "321x180"], "even width and height"),
    (["-o", "{d}/missing/a.mp4"], "does not exist"),
    (["-o", "{d}/a.mp4", "--lesson", "no_such_lesson"], "unknown lesson 'no_such_lesson'"),
])
def test_export_fails_cleanly_with_a_message_and_no_file(tmp_path, args, message):
    args = [a.format(d=tmp_path) for a in args]
    if "--lesson" not in args:
        args += ["--lesson", "classic_six_beale"]
    r = optirace("export", *args, "--steps", "0:10")
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_broken_scenario_file_names_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('schema = 1\nsurface = "beale"\nnoise = -1.0\n')
    r = optirace("export", str(bad), "-o", str(tmp_path / "a.mp4"))
    assert r.returncode == 1
    assert "bad.toml" in r.stderr and "noise" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_usage_errors_exit_2(tmp_path):
    r = optirace("export", "--lesson", "classic_six_beale", "-o", str(tmp_path / "a.mp4"), "--steps", "9:3")
    assert r.returncode == 2 and "A < B" in r.stderr
    r = optirace("export", "--lesson", "classic_six_beale")
    assert r.returncode == 2 and "-o" in r.stderr


def test_export_all_lessons_renders_every_lesson(tmp_path):
    r = optirace("export-all-lessons", str(tmp_path), "--duration", "0.3", *SMALL, timeout=400)
    assert r.returncode == 0, r.stderr
    # Every lesson exports, the network lab's too (a mode without video export would be skipped, saying so).
    modes = {i: load_lesson(i).mode for i in lesson_ids()}
    ids = [i for i, m in modes.items() if m in VIDEO_MODES]
    assert ids == list(modes) and "classic_six_beale" in ids
    assert {"surface", "lab"} <= set(modes.values())
    assert "skipped" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{i}.mp4" for i in ids)
    for i in ids:
        assert frame_count(tmp_path / f"{i}.mp4")[0] == 3


def test_sigterm_midway_leaves_no_file(tmp_path):
    out = tmp_path / "long.mp4"
    p = subprocess.Popen([sys.executable, "-m", "app", "export", "--lesson", "classic_six_beale", "-o", str(out),
                          "--steps", "0:20000", "--steps-per-frame", "1", *SMALL],
                         cwd=ROOT, env=headless_env(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until frames are being encoded
            line = p.stderr.readline()
            if "frame" in line and "frame 1/" not in line:
                break
        assert any(tmp_path.iterdir()), "the export should be writing its temporary file"
        p.send_signal(signal.SIGTERM)
        rest = p.communicate(timeout=60)[1]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130
    assert "interrupted" in rest and "no file was written" in rest
    assert list(tmp_path.iterdir()) == []
