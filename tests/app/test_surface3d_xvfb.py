"""The 3-D view needs OpenGL, which the offscreen platform lacks: this test runs the window
in a child process under Xvfb (Mesa), and skips, saying so, where xvfb-run is missing."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from app.shell.window import ShellWindow
    from app.model import ScenarioModel
    from engine.scenario import Scenario, classic_six
    win = ShellWindow(ScenarioModel(Scenario(surface="himmelblau", racers=classic_six("himmelblau"))),
                     restore=False, warm_up=False)
    win.resize(1280, 720)
    win.show()
    for _ in range(10):
        app.processEvents()
    win.controller.run_to(150)
    ok = win.mode.act_3d.isEnabled()
    win.mode.act_3d.trigger()
    sampled_in_worker = win.mode.view3d.sampling
    t0 = time.time()
    while win.mode.view3d.sampling and time.time() - t0 < 120:  # the surface comes from the worker
        app.processEvents()
    t0 = time.time()
    while time.time() - t0 < 0.5:
        app.processEvents()
    img = win.mode.view3d.grabFramebuffer().convertToFormat(QImage.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.width(), 4)[..., :3].astype(float)
    lum = a.mean(axis=-1)
    out = dict(enabled=ok, sampled_in_worker=sampled_in_worker, sampling=win.mode.view3d.sampling, shown=win.mode.stack.currentWidget() is win.mode.view3d, paths=len(win.mode.view3d.paths),
               racers=win.controller.frame.n_racers, lum_std=float(lum.std()),
               covered=float(np.mean(np.abs(lum - lum[0, 0]) > 8)))
    win.close()
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.skipif(shutil.which("xvfb-run") is None,
                    reason="xvfb-run is not installed: the 3-D view needs OpenGL, which the offscreen platform lacks")
def run_under_xvfb(script: str, tmp_path) -> dict:
    """Run ``script`` in a child on a virtual X server; the dict it prints after RESULT."""
    env = {**os.environ, "OPTIRACE_SETTINGS": str(tmp_path / "settings.ini"), "PYTHONPATH": str(ROOT)}
    env.pop("QT_QPA_PLATFORM", None)
    proc = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", sys.executable, "-c", script],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(line[len("RESULT "):])


def test_3d_view_draws_the_surface_and_every_path_under_xvfb(tmp_path):
    r = run_under_xvfb(CHILD, tmp_path)
    assert r["enabled"] and r["shown"]
    assert r["sampled_in_worker"] and not r["sampling"]  # on screen the GUI thread never samples it
    assert r["paths"] == r["racers"] == 6
    assert r["covered"] > 0.05  # the surface fills part of the view, not just the background
    assert r["lum_std"] > 10  # coloured and lit, not a flat silhouette


def test_shading_lights_slopes_facing_the_light_and_leaves_flat_ground_even():
    import numpy as np

    from app.views.surface3d import LIGHT_FROM, _shade

    xs = ys = np.linspace(-1.0, 1.0, 21)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    flat = _shade(np.zeros_like(X), xs, ys)
    assert np.ptp(flat) == 0 and 0.5 < flat[0, 0] <= 1.0
    # A plane rising away from the light faces it; one rising towards it turns away.
    towards = _shade(-(LIGHT_FROM[0] * X + LIGHT_FROM[1] * Y), xs, ys)
    away = _shade(LIGHT_FROM[0] * X + LIGHT_FROM[1] * Y, xs, ys)
    assert towards.min() > flat.max() > away.max() >= 0.5


CHILD_FIT = textwrap.dedent("""
    import json, time
    import numpy as np
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from app.shell.window import ShellWindow
    from app.model import ScenarioModel
    from engine.scenario import Scenario, classic_six
    sc = Scenario(surface="quadratic", racers=classic_six("quadratic"))
    sc.view.theme = "light"
    win = ShellWindow(ScenarioModel(sc), restore=False, warm_up=False)
    win.resize(1600, 900)
    win.show()
    win.controller.run_to(300)  # a crowded finish: every head at the minimum
    win.mode.act_3d.trigger()

    def settle(s=0.4):
        t0 = time.time()
        while time.time() - t0 < s:
            app.processEvents()

    v = win.mode.view3d
    t0 = time.time()
    while v.sampling and time.time() - t0 < 120:  # the surface comes from the worker
        app.processEvents()
    settle()
    img = v.grabFramebuffer().convertToFormat(QImage.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.width(), 4)[..., :3].astype(int)
    drawn = np.abs(a - a[0, 0]).sum(axis=-1) > 24
    ys, xs = np.nonzero(drawn)
    colours = {"#%02x%02x%02x" % tuple(a[y, x][::-1]) for y, x in zip(ys[::7], xs[::7])}
    names = [lk.name for lk in win.controller.frame.looks]
    tags = sum(lk.color.lower() in colours for lk in win.controller.frame.looks)
    texts = [t.text for t in v.texts]
    az0 = v.opts["azimuth"]
    win.mode.act_turntable.trigger()
    t0 = time.time()
    while abs(v.opts["azimuth"] - az0) <= 1 and time.time() - t0 < 60:  # a busy machine ticks late
        app.processEvents()
    out = dict(width=float(np.ptp(xs) / img.width()), height=float(np.ptp(ys) / img.height()),
               tags=tags, texts=texts, floor=len(v.floor.pos), turned=abs(v.opts["azimuth"] - az0),
               turning=v.turntable.isActive())
    win.mode.act_3d.trigger()  # back to the map: the turntable stops
    settle(0.1)
    out["stopped"] = not v.turntable.isActive()
    win.close()
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.skipif(shutil.which("xvfb-run") is None,
                    reason="xvfb-run is not installed: the 3-D view needs OpenGL, which the offscreen platform lacks")
def test_3d_view_fills_its_frame_with_axes_floor_contours_name_tags_and_a_turntable(tmp_path):
    r = run_under_xvfb(CHILD_FIT, tmp_path)
    assert max(r["width"], r["height"]) > 0.8  # fitted to the viewport, not floating small
    assert {"x", "y", "f − f*  (log)"} <= set(r["texts"]) and len(r["texts"]) > 10  # titles and ticks
    assert r["floor"] > 100  # iso-lines on the floor
    assert r["tags"] == 6  # every racer's name tag drawn in its colour
    assert r["turning"] and r["turned"] > 1 and r["stopped"]


CHILD_EXPORT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from app.export.job import ExportJob, settings_for
    from engine.scenario import Scenario, classic_six
    out = {}
    for mode in ("3d", "2d"):
        sc = Scenario(surface="himmelblau", racers=classic_six("himmelblau"))
        sc.view.mode = mode
        sc.export.first, sc.export.last, sc.export.steps_per_frame, sc.export.hold_last = 0, 60, 30, 0.0
        job = ExportJob(sc, settings_for(sc, sys.argv[1] + "/" + mode, format="png", size=(960, 540)))
        job.start()
        frames = []
        while job.step():
            frames.append(job._last_image[..., :3].astype(float))
        frames.append(job._last_image[..., :3].astype(float))
        job.finish()
        while not job.done:
            pass
        job.result()
        f = frames[-1]
        out[mode] = dict(note=job.note, n=len(frames), std=float(f.mean(-1).std()),
                         moved=float(np.abs(frames[-1] - frames[0]).mean()))
        np.save(sys.argv[1] + f"/{mode}.npy", f)
    a, b = (np.load(sys.argv[1] + f"/{m}.npy") for m in ("3d", "2d"))
    out["differ"] = float(np.mean(np.abs(a - b).sum(-1) > 30))
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.skipif(shutil.which("xvfb-run") is None,
                    reason="xvfb-run is not installed: the 3-D view needs OpenGL, which the offscreen platform lacks")
def test_a_3d_scenario_exports_the_3d_view_under_an_x_server(tmp_path):
    r = run_under_xvfb(CHILD_EXPORT.replace("sys.argv[1]", repr(str(tmp_path))), tmp_path)
    assert r["3d"]["note"] == "" and r["3d"]["n"] >= 3  # drawn in 3-D, not replaced by the map
    assert r["3d"]["std"] > 10 and r["3d"]["moved"] > 0.1  # shaded, and the racers move
    assert r["differ"] > 0.2  # a different picture from the 2-D map of the same race
