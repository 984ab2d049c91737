"""Exporting a race: the decoded video has the frames, size and rate asked for, the race moves,
and the head markers sit where the engine put them; cancel leaves nothing behind."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtGui import QColor

from app import theme as themes
from app.export.canvas import Canvas
from app.export.encoder import ExportError
from app.export.job import ExportJob, settings_for
from app.export.render import FrameSource, Plan, steps_per_frame_for
from engine.race.race import run_race
from engine.scenario import ExportOptions, RacerConfig, Scenario

SIZE = (640, 360)
COLORS = ("#E69F00", "#0072B2")


def scenario() -> Scenario:
    """Two racers that separate quickly: SGD barely moves, Adam runs off towards the minimum."""
    return Scenario(surface="quadratic", start=(-2.5, 1.5),
                    racers=[RacerConfig("sgd", {"lr": 0.001}, color=COLORS[0]),
                            RacerConfig("adam", {"lr": 0.06}, color=COLORS[1])],
                    title="Export test", caption="two racers",
                    export=ExportOptions(first=0, last=40, steps_per_frame=10, fps=10, size=SIZE, hold_last=0.0))


def decode(path: Path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [f.to_ndarray(format="rgb24") for f in c.decode(s)], s.average_rate


def rgb(hex_color: str) -> np.ndarray:
    c = QColor(hex_color)
    return np.array([c.red(), c.green(), c.blue()])


def closest(img: np.ndarray, xy: tuple[float, float], color: np.ndarray, r: int = 1) -> int:
    """The smallest colour distance to ``color`` within r pixels of xy (compression blurs edges)."""
    x, y = int(round(xy[0])), int(round(xy[1]))
    patch = img[y - r: y + r + 1, x - r: x + r + 1].reshape(-1, 3).astype(int)
    return int(np.abs(patch - color).max(axis=1).min())


def head_pixels(sc: Scenario, step: int, size=SIZE) -> list[tuple[float, float]]:
    """Where the window's views put each engine position at ``step``, on a canvas laid out
    exactly like the export's (same theme, size, title and caption)."""
    src = FrameSource(sc)
    canvas = Canvas(themes.get(sc.view.theme), size, sc.title, sc.caption)
    try:
        canvas.set_frame(src.frame_at(step))
        engine = run_race(sc.surface, sc.start_point(), [r.to_racer() for r in sc.racers], step,
                          surface_params=sc.surface_params).positions[:, step]
        return [canvas.map_to_pixel(*p) for p in engine]
    finally:
        canvas.dispose()
        src.close()


def test_plan_lists_the_frame_steps_and_always_ends_on_the_last_step():
    assert Plan(0, 40, 10).steps() == [0, 10, 20, 30, 40]
    assert Plan(5, 30, 10, hold_frames=3).steps() == [5, 15, 25, 30]
    assert Plan(5, 30, 10, hold_frames=3).n_frames == 7
    assert steps_per_frame_for(0, 600, 30, 10.0) == 3  # 300 frames for 600 steps
    with pytest.raises(ExportError, match="first < last"):
        Plan(10, 10, 1)


def test_settings_take_the_scenario_defaults_and_overrides(tmp_path):
    sc = scenario()
    s = settings_for(sc, tmp_path / "a.mp4")
    assert (s.size, s.fps, s.first, s.last, s.steps_per_frame, s.format.id) == (SIZE, 10, 0, 40, 10, "mp4")
    s = settings_for(sc, tmp_path / "a.gif", size=(320, 180), fps=20, first=10, last=110, duration=2.0,
                     theme="light", hold_last=1.0)
    assert (s.size, s.fps, s.steps_per_frame, s.theme, s.format.id) == ((320, 180), 20, 3, "light", "gif")
    assert s.n_frames == 35 + 20
    with pytest.raises(ExportError, match="either steps per frame or a target duration"):
        settings_for(sc, tmp_path / "a.mp4", steps_per_frame=2, duration=3.0)
    with pytest.raises(ExportError, match="theme must be one of 'light', 'dark', got 'blue'"):
        settings_for(sc, tmp_path / "a.mp4", theme="blue")


def test_mp4_export_has_the_frames_and_heads_where_the_engine_put_them(qapp, tmp_path):
    sc = scenario()
    path = ExportJob(sc, settings_for(sc, tmp_path / "race.mp4")).run()
    frames, rate = decode(path)
    assert len(frames) == 5 and rate == 10
    assert frames[0].shape == (SIZE[1], SIZE[0], 3)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.5  # the race moves
    # Step 0: every head is on the start; the last racer's marker is drawn on top.
    start = head_pixels(sc, 0)
    assert np.allclose(start[0], start[1])
    assert closest(frames[0], start[1], rgb(COLORS[1])) < 50
    # Step 40: the two heads are apart, each marker in its racer's colour at its engine position.
    heads = head_pixels(sc, 40)
    assert np.hypot(*np.subtract(heads[0], heads[1])) > 30
    for r, xy in enumerate(heads):
        assert closest(frames[-1], xy, rgb(COLORS[r])) < 50, f"racer {r} at {xy}"
    # ... and not simply everywhere: the colour is absent far from the heads.
    assert closest(frames[-1], (heads[1][0], heads[1][1] - 60), rgb(COLORS[1]), r=2) > 60
    assert [p.name for p in tmp_path.iterdir()] == ["race.mp4"]


@pytest.mark.parametrize("fmt,fps", [("webm", 12), ("gif", 20)])
def test_webm_and_gif_exports_decode_as_asked(qapp, tmp_path, fmt, fps):
    sc = scenario()
    s = settings_for(sc, tmp_path / f"race.{fmt}", size=(480, 270), fps=fps, hold_last=0.2)
    path = ExportJob(sc, s).run()
    frames, rate = decode(path)
    assert len(frames) == 5 + round(0.2 * fps)
    assert frames[0].shape == (270, 480, 3) and rate == fps
    assert np.abs(frames[0].astype(int) - frames[4].astype(int)).mean() > 0.3
    # The held last frame (lossy codecs refine a repeated frame, so nearly equal).
    assert np.abs(frames[-1].astype(int) - frames[-2].astype(int)).mean() < 1.0
    heads = head_pixels(sc, 40, size=(480, 270))
    assert closest(frames[4], heads[1], rgb(COLORS[1])) < 60


def test_png_sequence_export_is_lossless_at_the_heads(qapp, tmp_path):
    sc = scenario()
    s = settings_for(sc, tmp_path / "frames", format="png", size=(480, 270))
    ExportJob(sc, s).run()
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == [f"frame_{i:05d}.png" for i in range(5)]
    last, _ = decode(tmp_path / "frames" / names[-1])
    heads = head_pixels(sc, 40, size=(480, 270))
    for r, xy in enumerate(heads):
        assert closest(last[0], xy, rgb(COLORS[r]), r=0) < 8


def test_light_theme_changes_the_background(qapp, tmp_path):
    sc = scenario()
    dark = ExportJob(sc, settings_for(sc, tmp_path / "d.mp4", last=10, theme="dark")).run()
    light = ExportJob(sc, settings_for(sc, tmp_path / "l.mp4", last=10, theme="light")).run()
    d, _ = decode(dark)
    lt, _ = decode(light)
    assert d[0].mean() < 110 < lt[0].mean()


def test_cancel_midway_leaves_nothing_and_keeps_the_old_file(qapp, tmp_path):
    sc = scenario()
    target = tmp_path / "race.mp4"
    target.write_bytes(b"last week's video")
    job = ExportJob(sc, settings_for(sc, target, last=400, steps_per_frame=4))
    job.start()
    for _ in range(5):
        assert job.step()
    job.cancel()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.mp4"]
    assert target.read_bytes() == b"last week's video"
    with pytest.raises(ExportError, match="cancelled"):
        job.result()


def test_run_with_a_cancel_callback_stops_and_cleans_up(qapp, tmp_path):
    sc = scenario()
    seen = []
    job = ExportJob(sc, settings_for(sc, tmp_path / "race.gif", last=400, steps_per_frame=4))
    with pytest.raises(ExportError, match="cancelled"):
        job.run(progress=seen.append, cancelled=lambda: job.done_frames >= 6, every=0.0)
    assert list(tmp_path.iterdir()) == []
    assert seen and seen[-1].done >= 5 and seen[-1].total == 101
    assert seen[-1].remaining is not None and seen[-1].remaining > 0


def test_checks_fail_before_any_rendering(qapp, tmp_path):
    sc = scenario()
    with pytest.raises(ExportError, match="even width"):
        ExportJob(sc, settings_for(sc, tmp_path / "a.mp4", size=(641, 360)))
    with pytest.raises(ExportError, match="unknown extension"):
        settings_for(sc, tmp_path / "a.mov")
    empty = Scenario(surface="beale", export=ExportOptions(size=SIZE))
    job = ExportJob(empty, settings_for(empty, tmp_path / "a.mp4"))
    with pytest.raises(ExportError, match="no enabled racer"):
        job.start()
    assert list(tmp_path.iterdir()) == []


def test_same_scenario_gives_the_same_video(qapp, tmp_path):
    sc = scenario()
    a, _ = decode(ExportJob(sc, settings_for(sc, tmp_path / "a.webm", size=(320, 180))).run())
    b, _ = decode(ExportJob(sc, settings_for(sc, tmp_path / "b.webm", size=(320, 180))).run())
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
