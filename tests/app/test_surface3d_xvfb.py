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
    from app.main_window import MainWindow
    from app.model import ScenarioModel
    from engine.scenario import Scenario, classic_six
    win = MainWindow(ScenarioModel(Scenario(surface="himmelblau", racers=classic_six("himmelblau"))),
                     restore=False, warm_up=False)
    win.resize(1280, 720)
    win.show()
    for _ in range(10):
        app.processEvents()
    win.controller.run_to(150)
    ok = win.act_3d.isEnabled()
    win.act_3d.trigger()
    t0 = time.time()
    while time.time() - t0 < 0.5:
        app.processEvents()
    img = win.view3d.grabFramebuffer().convertToFormat(QImage.Format_RGB32)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.width(), 4)[..., :3].astype(float)
    lum = a.mean(axis=-1)
    out = dict(enabled=ok, shown=win.stack.currentWidget() is win.view3d, paths=len(win.view3d.paths),
               racers=win.controller.frame.n_racers, lum_std=float(lum.std()),
               covered=float(np.mean(np.abs(lum - lum[0, 0]) > 8)))
    win.close()
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.skipif(shutil.which("xvfb-run") is None,
                    reason="xvfb-run is not installed: the 3-D view needs OpenGL, which the offscreen platform lacks")
def test_3d_view_draws_the_surface_and_every_path_under_xvfb(tmp_path):
    env = {**os.environ, "OPTIRACE_SETTINGS": str(tmp_path / "settings.ini"), "PYTHONPATH": str(ROOT)}
    env.pop("QT_QPA_PLATFORM", None)
    proc = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", sys.executable, "-c", CHILD],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    r = json.loads(line[len("RESULT "):])
    assert r["enabled"] and r["shown"]
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
