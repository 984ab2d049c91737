"""The lab's experiment figures from the engine's numbers (function space with hover, the
landscape with its trails and distances, initialisers side by side), and the Experiment panel in
the window: computed in the worker, cancelled with the lab still usable, run again."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.modes.network_lab.experiment_views import FunctionSpaceView, InitView, LandscapeView
from app.theme import get
from app.views.look import Look
from engine import experiments as X
from engine import scenario as io


def scenario(experiment: dict, last: int = 40, **lab) -> io.Scenario:
    base = {"dataset": "moons", "n": 160, "hidden": [8, 8], "activation": "sigmoid", "batch_size": 16,
            "contenders": [{"optimizer": "sgd", "hyper": {"lr": 0.5}}, {"optimizer": "adam", "hyper": {"lr": 0.02}},
                           {"optimizer": "momentum", "hyper": {"lr": 0.1}}]}
    return io.Scenario.from_dict({"schema": 2, "mode": "lab", "export": {"last": last},
                                  "lab": {**base, **lab, "experiment": experiment}})


@pytest.fixture(scope="module")
def function_space():
    return X.run(scenario({"kind": "function_space", "members": 3, "pretrain_steps": 30, "record_every": 10}))


def test_function_space_view_draws_the_records_and_hover_names_the_network(qtbot, function_space):
    res = function_space
    view = FunctionSpaceView(get("dark"))
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    qtbot.waitExposed(view)
    view.set_result(res)
    view.set_step(25)  # the latest record at or before step 25 is step 20
    heads = view.heads.getData()
    np.testing.assert_array_equal(np.stack(heads, axis=1), res.points[:, 2])
    assert "step 20" in view.heading and f"{res.silhouette[0, 2]:.2f}" in view.heading
    # Every record drawn, shaded dark to light.
    dots = [i for i in view.plot.items if i.__class__.__name__ == "ScatterPlotItem" and i is not view.heads]
    assert len(dots) == 6 and all(len(d.data) == len(res.steps) for d in dots)
    for n in (0, 4):  # a pre-trained and a random-init network, at their last record
        move(view, QPoint(1, 1))
        assert view.hovered == "" and not view.hover.isVisible()
        scene = view.plot.vb.mapViewToScene(pg_point(res.points[n, -1]))
        pos = view.mapFromScene(scene)
        name = res.member_name(view.network_at(scene))
        move(view, pos)
        assert view.hovered == name
        assert view.hover.isVisible() and view.hover.textItem.toPlainText().startswith(name)
        # The point belongs to network n unless another network's point lies exactly as near.
        d = np.linalg.norm(res.points.reshape(-1, 2) - res.points[n, -1], axis=1)
        assert view.network_at(scene) == n or d[np.argsort(d)[1]] < 1e-6
    assert res.member_name(4).startswith("Random init")


def move(view, pos: QPoint) -> None:
    """The mouse moved over the view to ``pos`` (viewport pixels), delivered now; pyqtgraph's
    limit on mouse moves per second, which drops moves that follow quickly, lifted meanwhile."""
    import pyqtgraph as pg

    limit = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOptions(mouseRateLimit=-1)
    try:
        p = QPointF(pos)
        ev = QMouseEvent(QEvent.MouseMove, p, view.viewport().mapToGlobal(p), Qt.NoButton, Qt.NoButton, Qt.NoModifier)
        QApplication.sendEvent(view.viewport(), ev)
    finally:
        pg.setConfigOptions(mouseRateLimit=limit)


def pg_point(xy):
    import pyqtgraph as pg

    return pg.Point(float(xy[0]), float(xy[1]))


def test_landscape_view_shows_the_grid_the_paths_and_their_distance(qtbot):
    res = X.run(scenario({"kind": "landscape", "record_every": 10, "resolution": 9}))
    view = LandscapeView(get("light"))
    qtbot.addWidget(view)
    looks = [Look(n, c, m) for n, c, m in zip(res.names, ("#E69F00", "#56B4E9", "#009E73"), ("o", "s", "t"))]
    view.set_result(res, looks)
    view.set_step(20)
    np.testing.assert_allclose(view.image.image, np.log10(res.grid).T)
    for r, tr in enumerate(view.trails):
        x, y = tr.getData()
        np.testing.assert_array_equal(np.stack([x, y], axis=1), res.coords[r, :3])
    x, y = view.distance.curves[2].getData()
    np.testing.assert_allclose(y, res.distance[2, :3])
    assert "SGD and Adam" in view.heading


def test_init_view_shows_each_initialisers_statistics_and_curve(qtbot):
    res = X.run(scenario({"kind": "init_compare", "inits": ["zeros", "he_normal"], "record_every": 20}))
    view = InitView(get("dark"))
    qtbot.addWidget(view)
    view.set_result(res)
    np.testing.assert_array_equal(view.bars["he_normal"][0], res.stats[1].act_std)
    _, y = view.curves.curves[0].getData()
    np.testing.assert_allclose(10 ** y, res.val_loss[0])  # a log axis holds log10


def test_the_lab_computes_its_experiment_and_cancel_leaves_it_usable(qtbot):
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    sc = scenario({"kind": "function_space"}, last=200)
    sc.lab.experiment = None
    win = ShellWindow(ScenarioModel(sc), restore=False, warm_up=False)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    panel = win.mode.experiment
    assert not panel.isVisible() and panel.worker is None  # no experiment: no panel
    win.model.set_lab("experiment", {"kind": "function_space", "members": 4, "pretrain_steps": 3000,
                                     "record_every": 10})
    qtbot.waitUntil(lambda: panel.isVisible() and panel.worker is not None)  # with the lab built in a worker
    qtbot.waitUntil(lambda: panel.bar.value() > 0, timeout=60_000)
    qtbot.mouseClick(panel.button, Qt.LeftButton)  # Cancel
    qtbot.waitUntil(lambda: panel.worker is None, timeout=60_000)
    assert "Cancelled" in panel.status.text() and panel.result is None and panel.button.text() == "Run"
    win.controller.run_to(30)  # the lab goes on
    assert win.controller.frame.step == 30
    # A smaller experiment computes and its figure follows the lab's step.
    win.model.set_lab("experiment", {"kind": "function_space", "members": 2, "pretrain_steps": 20,
                                     "record_every": 10})
    qtbot.waitUntil(lambda: panel.result is not None, timeout=120_000)
    win.controller.run_to(20)
    assert "step 20" in panel.heading.text()
    win.model.set_lab("experiment", {"kind": "landscape", "record_every": 10, "resolution": 7})
    qtbot.waitUntil(lambda: isinstance(panel.result, X.Landscape), timeout=120_000)
    assert panel.stack.currentWidget() is panel.views["landscape"]
    win.close()
