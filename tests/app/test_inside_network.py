"""Inside the network in the lab window: the gradient check computed in the worker holds the
engine's numbers, and "break backprop" turns exactly the stated layers red."""
from __future__ import annotations

import numpy as np
import pytest

from engine import lab as LAB
from engine.nn import mistakes as M
from engine.scenario import Scenario


def lab_scenario(**lab) -> Scenario:
    sc = Scenario(mode="lab")
    sc.lab.n = 200
    sc.lab.hidden = [8, 8, 8]
    for k, v in lab.items():
        setattr(sc.lab, k, v)
    return sc


def open_lab(qtbot, sc):
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    win = ShellWindow(ScenarioModel(sc), restore=False, warm_up=False)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def lab_window(qtbot):
    win = open_lab(qtbot, lab_scenario(dropout=[0.5, 0.25, 0.0]))
    yield win
    win.close()


def checked(qtbot, view, step, mistake=""):
    qtbot.waitUntil(lambda: not view.running and view.result is not None and view.step == step
                    and view.result.mistake == mistake, timeout=30_000)


def test_the_table_holds_the_engines_check_of_the_shown_network(lab_window, qtbot):
    win = lab_window
    view = win.mode.inside.gradcheck
    win.docks["gradcheck"].raise_()
    win.controller.run_to(30)
    checked(qtbot, view, 30)
    step, net, X, y = win.mode.session.network_now()
    assert step == 30
    want = LAB.check_gradients(net, X, y)
    np.testing.assert_array_equal(view.result.layer_errors, want.layer_errors)
    np.testing.assert_array_equal(view.result.sweep, want.sweep)
    rows = view.table_rows()
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    for i, r in enumerate(rows):
        assert r[1] == f"{want.group_errors[want.groups.index(f'dense{i + 1}.W')]:.1e}"
        assert r[3] == "right"
    assert "every layer right" in view.why.text()


def test_break_backprop_turns_the_stated_layers_red(lab_window, qtbot):
    win = lab_window
    view = win.mode.inside.gradcheck
    win.docks["gradcheck"].raise_()
    checked(qtbot, view, 0)
    session = win.mode.session
    view.layer.setValue(3)
    view.mistake.setCurrentIndex(view.mistake.findData(M.TRANSPOSED))
    view.broken.setChecked(True)
    checked(qtbot, view, 0, M.TRANSPOSED)
    assert [r[3] for r in view.table_rows()] == ["WRONG", "WRONG", "right", "right"]
    assert "Wrong: layers 1, 2, as stated" in view.why.text()
    assert M.expected(session.race.net, M.TRANSPOSED, 3).why in view.why.text()
    # The mistake is the scenario's (saved with it) and rebuilt nothing.
    assert win.model.scenario.lab.gradcheck_mistake == M.TRANSPOSED
    assert win.model.scenario.lab.gradcheck_layer == 3
    assert win.mode.session is session
    # A mistake the layer cannot take is refused in words; the table keeps the last check.
    view.layer.setValue(1)
    qtbot.waitUntil(lambda: "Cannot break backprop there" in view.why.text(), timeout=30_000)
    assert "needs a square layer: layer 1 is 2 x 8" in view.why.text()
    view.mistake.setCurrentIndex(view.mistake.findData(M.BIAS_ONE_EXAMPLE))
    checked(qtbot, view, 0, M.BIAS_ONE_EXAMPLE)
    assert [r[3] for r in view.table_rows()] == ["WRONG", "right", "right", "right"]
    assert view.result.broken_sweep.min() > 1e-4 > view.result.sweep.min()


def test_the_lesson_opens_on_the_broken_check(qtbot):
    from app.export.lessons import load_lesson

    win = open_lab(qtbot, load_lesson("gradient_check"))
    view = win.mode.inside.gradcheck
    assert view.isVisible() and view.broken.isChecked() and view.layer.value() == 3
    checked(qtbot, view, 0, M.NO_DERIVATIVE)
    assert [r[3] for r in view.table_rows()] == ["WRONG", "WRONG", "WRONG", "right"]
    win.close()


def test_the_diagram_draws_the_engines_unit_images_and_reports_numbers_on_hover(lab_window, qtbot):
    from app.modes.network_lab.diagram import GRID_RES, HALF, UNIT_MAP
    from engine.nn import inside as INSIDE

    win = lab_window
    view = win.mode.inside.diagram
    win.docks["diagram"].raise_()
    win.controller.run_to(40)
    qtbot.waitUntil(lambda: not view.running and view.step == 40 and view.stats is not None, timeout=30_000)
    step, net, X, y = win.mode.session.network_now()
    grids = INSIDE.unit_grids(net, win.mode.session.extent, GRID_RES)
    for g, mine in zip(grids, view.grids):
        np.testing.assert_array_equal(g, mine)
    # The first hidden layer's image stacks its units' planes, colour-mapped, y up.
    g = grids[1]
    m = np.abs(g).max()
    lut = UNIT_MAP.getLookupTable(nPts=256, alpha=True)
    want = lut[np.clip(((g[::-1, :, 0] / m + 1.0) * 127.5).astype(np.int64), 0, 255)]
    np.testing.assert_array_equal(view.images[1].image[:GRID_RES], want)
    # Hover: a unit's numbers are the engine's on the check's examples; an edge's its weight.
    stats = INSIDE.unit_stats(net, X, y)
    p = view.unit_centre(2, 3)
    text = view.text_at(p.x(), p.y())
    assert text.startswith("hidden 2, unit 4: output mean") and f"{stats.values[2][:, 3].mean():.3g}" in text
    assert f"{stats.db[1][3]:.3g}" in text
    a, b = view.unit_centre(1, 2), view.unit_centre(2, 5)
    t = 0.23  # a point on the drawn edge where no other edge crosses it
    x = a.x() + HALF + t * (b.x() - a.x() - 2 * HALF)
    text = view.text_at(x, a.y() + t * (b.y() - a.y()))
    assert f"w = {stats.W[1][2, 5]:.4g}" in text and f"dL/dw = {stats.dW[1][2, 5]:.3g}" in text
    # Dropout: the crossed-out units are the mask grid's dropped units of the shown step.
    f = win.controller.frame
    key = next(c.dropout for c in view.stats.columns if c.dropout)
    np.testing.assert_array_equal(view._mask(next(c for c in view.stats.columns if c.dropout)), f.masks[key][0])
    assert "Dropout of step 40" in view.head.text()


def test_distributions_hold_numpys_percentiles_of_the_recorded_values(qtbot):
    from engine.nn import inside as INSIDE

    win = open_lab(qtbot, lab_scenario(dataset="digits", hidden=[24, 16], activation="relu"))
    view = win.mode.inside.distributions
    win.docks["distributions"].raise_()
    for step in (10, 20):
        win.controller.run_to(step)
        qtbot.waitUntil(lambda: not view.running and view.step == step, timeout=30_000)
    steps, bands = view.band_series("values", 0)
    assert steps.tolist() == [0, 10, 20]
    _, net, _, _ = win.mode.session.network_now()
    X = win.mode.session.race.Xv[: 256]
    want = INSIDE.distributions(net, X)
    np.testing.assert_array_equal(bands[-1], np.percentile(want[0].values, INSIDE.BAND_PERCENTILES))
    _, wb = view.band_series("weights", 1)
    np.testing.assert_array_equal(wb[-1], np.percentile(net.layer_params()[1][0], INSIDE.BAND_PERCENTILES))
    # The dead-ReLU share is written on the histogram; the axes leave the outliers out.
    title = view.hist["values"].titleLabel.text
    assert f"{100 * want[0].fraction:.0f}% dead" in title
    lo, hi = view.hist["weights"].viewRange()[0]
    assert (lo, hi) == pytest.approx(INSIDE.robust_range(want[0].weights))
    # For digits, the strip shows the misclassified validation digits with their labels.
    idx, pred = view.wrong
    labels = win.mode.session.data.y_val
    assert np.all(pred != labels[idx]) and idx.size > 0
    shown = [t.toPlainText() for t in view.strip_labels if t.isVisible()]
    assert shown == [f"{p} / {labels[j]}" for j, p in zip(idx, pred)]
    win.close()
