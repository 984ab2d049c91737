"""The network lab in the window: switching to it and back, building networks from its setup,
the views holding the engine's numbers, a diverging contender, playback and files."""
from __future__ import annotations

import numpy as np
import pytest

from app.modes.network_lab.session import CHECK_EVERY
from engine import scenario as io
from engine.race.status import Status
from engine.scenario import RacerConfig, Scenario


def lab_scenario(**lab) -> Scenario:
    sc = Scenario(mode="lab")
    sc.lab.n = 200
    sc.lab.hidden = [16, 16]
    for k, v in lab.items():
        setattr(sc.lab, k, v)
    return sc


def wait_shown(win, qtbot) -> None:
    """Until the lab's views are made (in stages, after a switch) and the networks of its
    latest setup (built in a worker) are on screen."""
    qtbot.waitUntil(lambda: win.mode.id == "lab" and win.mode.shown, timeout=60_000)


@pytest.fixture
def lab_window(qtbot):
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    win = ShellWindow(ScenarioModel(lab_scenario(dropout=[0.5, 0.25])), restore=False, warm_up=False)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def test_ctrl_2_switches_to_the_lab_and_ctrl_1_back(qtbot):
    from tests.app.conftest import make_window

    win = make_window(qtbot, Scenario(surface="beale", racers=[RacerConfig("adam")]))
    win.mode_actions["lab"].trigger()
    assert win.mode.id == "lab" and win.model.scenario.mode == "lab"
    assert win.mode_actions["lab"].shortcut().toString() == "Ctrl+2"
    assert {"setup", "contenders", "leaderboard", "masks", "val_loss", "accuracy"} <= set(win.docks)
    wait_shown(win, qtbot)
    assert win.docks["val_loss"].widget().layout().itemAt(0).widget() is win.mode.val_plot
    win.controller.run_to(20)
    assert win.controller.frame.step == 20
    win.mode_actions["surface"].trigger()
    assert win.mode.id == "surface" and "racers" in win.docks
    win.close()


def test_after_n_steps_the_views_hold_the_engines_numbers(lab_window):
    win = lab_window
    win.controller.run_to(100)
    f = win.controller.frame
    s = win.mode.session
    assert f.step == 100
    # The gradient plot's last point is the recorded norm of every layer at step 100.
    steps, norms = win.mode.flow_view.last
    assert steps[-1] == 100
    i = s.checks.index_of(100 // CHECK_EVERY)
    np.testing.assert_array_equal(norms[-1], s.checks["gnorm"][f.selected, i])
    for k, c in enumerate(win.mode.flow_view.curves):
        assert c.yData[-1] == s.checks["gnorm"][f.selected, i, k]
    # The mask grid is the engine's mask of the step shown (the chunk ended at step 100, so the
    # masks the race holds are that step's).
    assert f.mask_step == 100
    for name, _p in f.dropouts:
        np.testing.assert_array_equal(win.mode.masks_view.shown[name], s.race.masks(f.selected)[name])
    # The leaderboard shows the validation numbers of the check at step 100.
    assert f.check_step == 100
    np.testing.assert_array_equal(f.val_loss, s.checks["val_loss"][:, i])


def test_masks_stay_exact_when_stepping_back(lab_window):
    win = lab_window
    win.controller.run_to(50)
    m50 = {k: v.copy() for k, v in win.mode.masks_view.shown.items()}
    win.controller.run_to(90)
    assert win.controller.frame.mask_step == 90
    assert any(not np.array_equal(m50[k], win.mode.masks_view.shown[k]) for k in m50)
    win.controller.seek(50)
    assert win.controller.frame.mask_step == 50
    for k in m50:
        np.testing.assert_array_equal(win.mode.masks_view.shown[k], m50[k])
    # Any step, not only the ends of the chunks training ran: the masks that step drew.
    win.controller.seek(37)
    f = win.controller.frame
    exact = win.mode.session.race.masks_at(f.selected, 37)
    assert f.mask_step == 37 and win.mode.masks_view.shown
    for k, shown in win.mode.masks_view.shown.items():
        np.testing.assert_array_equal(shown, exact[k])


def test_a_diverging_contender_is_marked_while_the_others_train_on(qtbot):
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    # A regression's squared error with ReLU and far too large a step blows up within 100 steps.
    sc = lab_scenario(dataset="sine", activation="relu",
                      contenders=[RacerConfig("sgd", {"lr": 10.0}), RacerConfig("adam", {"lr": 0.01})])
    win = ShellWindow(ScenarioModel(sc), restore=False, warm_up=False)
    qtbot.addWidget(win)
    win.show()
    win.controller.run_to(200)
    wait_shown(win, qtbot)  # paused, the leaderboard and curves draw in the turns after
    f = win.controller.frame
    assert f.status[0] == Status.DIVERGED and f.status[1] == Status.TRAINING
    assert "diverged" in [lk.label.format for lk in win.mode.val_plot.events if lk.isVisible()]
    board = win.mode.leaderboard
    assert board.item(board.order.index(0), board.status_column).text() == f"diverged at {f.status_step[0]:,}"
    win.close()


def test_play_trains_in_a_worker_pause_stops_it_and_reset_goes_back(lab_window, qtbot):
    win = lab_window
    c = win.controller
    c.steps_per_frame = 20
    c.play()
    qtbot.waitUntil(lambda: c.k >= 200, timeout=20_000)
    assert win.mode.session.live
    c.pause()
    qtbot.waitUntil(lambda: not win.mode.session.live, timeout=5_000)
    k = c.k
    c.step_by(1)
    assert c.k == k + 1
    # Resume: on from where it stood, training in the worker again.
    c.play()
    assert win.mode.session.live
    qtbot.waitUntil(lambda: c.k >= k + 100, timeout=20_000)
    c.pause()
    qtbot.waitUntil(lambda: not win.mode.session.live, timeout=5_000)
    # Scrub with the timeline: the views show that step's recorded numbers.
    win.timeline.setValue(30)
    assert c.frame.step == 30
    steps, norms = win.mode.flow_view.last
    assert steps[-1] == 30
    np.testing.assert_array_equal(norms[-1], win.mode.session.checks["gnorm"][c.frame.selected, 3])
    exact = win.mode.session.race.masks_at(c.frame.selected, 30)
    assert win.mode.masks_view.shown
    assert all(np.array_equal(m, exact[k]) for k, m in win.mode.masks_view.shown.items())
    c.reset()
    assert c.frame.step == 0 and not c.playing
    assert win.mode.flow_view.last[0].size == 0 and win.mode.masks_view.shown == {}


def test_setup_edits_rebuild_the_network(lab_window, qtbot):
    win = lab_window
    panel = win.mode.setup_panel
    panel.depth.setValue(4)
    assert win.model.scenario.lab.hidden == [16, 16, 16, 16]
    wait_shown(win, qtbot)  # the networks are built in a worker
    assert len(win.mode.session.layers) == 5 and win.controller.frame.step == 0
    assert len(win.mode.flow_view.curves) == 5
    panel.table.item(0, 0).setText("8")
    assert win.model.scenario.lab.hidden[0] == 8
    wait_shown(win, qtbot)
    assert win.mode.session.race.net.dense[0].fan_out == 8
    before = win.mode.session
    panel.activation.setCurrentIndex(panel.activation.findData("relu"))
    assert win.model.scenario.lab.activation == "relu"
    wait_shown(win, qtbot)
    assert win.mode.session is not before and win.controller.session is win.mode.session
    # Identity needs square layers: greyed out with the reason.
    row = panel.init.findData("identity")
    item = panel.init.model().item(row)
    assert not item.isEnabled() and "square" in item.toolTip()
    panel.dataset.setCurrentIndex(panel.dataset.findData("moons"))
    wait_shown(win, qtbot)
    assert win.mode.session.race.X.shape[1] == 2 and win.model.scenario.lab.dataset == "moons"


def _has_op(kind, col=None, value=None):
    from engine.nn import ops

    def check(net):
        return any(net.opi[o, ops.KIND] == kind and (col is None or net.opi[o, col] == value)
                   for o in range(net.opi.shape[0]))
    return check


def _net_kinds():
    from engine.nn import ops

    return [
        ("norm", "batch", _has_op(ops.BATCHNORM)),
        ("norm", "layer", _has_op(ops.LAYERNORM)),
        ("skip", "residual", _has_op(ops.ADD)),
        ("skip", "highway", _has_op(ops.HIGHWAY)),
        ("dropout_form", "original", _has_op(ops.DROPOUT, ops.CODE, ops.ORIGINAL)),
        ("activation", "relu", _has_op(ops.ACT, ops.CODE, ops.RELU)),
        ("loss", "bce", lambda net: net.loss.id == "bce"),
        ("dropconnect", 0.3, lambda net: any(net.opi[o, ops.KIND] == ops.DENSE and net.opf[o, ops.P] == 0.3
                                             for o in range(net.opi.shape[0]))),
    ]


@pytest.mark.parametrize("field, value, built", _net_kinds(), ids=lambda v: str(v) if not callable(v) else "")
def test_each_kind_of_network_is_built_from_the_panel_and_shown(lab_window, qtbot, field, value, built):
    from engine.nn import ops

    win = lab_window
    panel = win.mode.setup_panel
    widget = getattr(panel, field)
    assert not built(win.mode.session.race.net)  # the default network has none of it
    if isinstance(value, str):
        widget.setCurrentIndex(widget.findData(value))
    else:
        widget.setValue(value)
    assert getattr(win.model.scenario.lab, field) == value
    wait_shown(win, qtbot)
    s = win.mode.session
    assert built(s.race.net)
    # The views draw the new network: a curve per dense layer, a mask grid per dropout layer
    # and per DropConnect layer.
    win.controller.run_to(30)
    assert win.mode.flow_view.layers == s.layers and len(win.mode.flow_view.curves) == len(s.layers)
    net = s.race.net
    n_masks = sum(net.opi[o, ops.KIND] == ops.DROPOUT or net.opi[o, ops.KIND] == ops.DENSE and net.opi[o, ops.MOFF] >= 0
                  for o in range(net.opi.shape[0]))
    assert len(win.mode.masks_view.shown) == n_masks


def test_a_setup_that_cannot_be_built_says_why_and_the_next_one_builds(lab_window, qtbot):
    win = lab_window
    panel = win.mode.setup_panel
    panel.loss.setCurrentIndex(panel.loss.findData("mse"))  # squared error on class labels
    wait_shown(win, qtbot)
    assert win.mode.session is None and "mse" in panel.problem.text()
    panel.loss.setCurrentIndex(panel.loss.findData("softmax_ce"))
    wait_shown(win, qtbot)
    assert win.mode.session is not None and panel.problem.text() == ""
    win.controller.run_to(20)
    assert win.controller.frame.step == 20


def test_save_and_load_give_the_same_setup(lab_window, tmp_path, qtbot):
    win = lab_window
    win.model.set_lab("activation", "relu")
    win.mode.contenders.add_racer("rmsprop")
    path = str(tmp_path / "lab.toml")
    assert win.write_scenario(path)
    saved = io.load(path)
    assert saved.mode == "lab" and saved.lab == win.model.scenario.lab
    win.model.set_lab("activation", "tanh")
    assert win.load_scenario(path)
    wait_shown(win, qtbot)
    assert win.model.scenario.lab == saved.lab and win.mode.session.race.K == 3


def _screen(win, qtbot) -> dict:
    """What the lab's views hold: the curves' numbers, the masks, the output image, the board."""
    wait_shown(win, qtbot)
    m = win.mode
    board = m.leaderboard
    return {"flow": [c.yData.copy() for c in m.flow_view.curves],
            "bars": {k: np.copy(v) for k, v in m.flow_view.now.items()},
            "masks": {k: v.copy() for k, v in m.masks_view.shown.items()}, "image": m.output_view.image.image.copy(),
            "board": [[board.item(r, c).text() for c in range(board.columnCount())] for r in range(board.rowCount())],
            "val": [c.yData.copy() for c in m.val_plot.curves]}


def test_save_and_load_give_the_same_screen(lab_window, tmp_path, qtbot):
    win = lab_window
    win.mode.contenders.add_racer("rmsprop")
    wait_shown(win, qtbot)
    win.controller.run_to(60)
    before = _screen(win, qtbot)
    path = str(tmp_path / "lab.toml")
    assert win.write_scenario(path)
    win.model.set_lab("activation", "relu")  # something else on screen meanwhile
    wait_shown(win, qtbot)
    win.controller.run_to(60)
    assert not np.array_equal(_screen(win, qtbot)["flow"][0], before["flow"][0])
    assert win.load_scenario(path)
    wait_shown(win, qtbot)
    assert win.mode.setup_panel.activation.currentData() == "tanh"  # the panel shows the file's setup
    win.controller.run_to(60)
    after = _screen(win, qtbot)
    for key in ("flow", "val"):
        assert len(after[key]) == len(before[key])
        for a, b in zip(after[key], before[key]):
            np.testing.assert_array_equal(a, b)
    for k in before["bars"]:
        np.testing.assert_array_equal(after["bars"][k], before["bars"][k])
    assert after["masks"].keys() == before["masks"].keys()
    for k in before["masks"]:
        np.testing.assert_array_equal(after["masks"][k], before["masks"][k])
    np.testing.assert_array_equal(after["image"], before["image"])
    assert after["board"] == before["board"]


def test_leaderboard_row_selects_the_contender_shown(lab_window):
    win = lab_window
    win.controller.run_to(30)
    win.mode._select_enabled(1)
    assert win.controller.frame.selected == 1
    assert "Adam" in win.mode.flow_view.lines.titleLabel.text


def test_gradient_bars_hold_the_engines_max_mean_and_update_of_step_n(lab_window):
    win = lab_window
    win.controller.run_to(100)
    f, s, view = win.controller.frame, win.mode.session, win.mode.flow_view
    i = s.checks.index_of(100 // CHECK_EVERY)
    assert view.now["step"] == 100
    for key, series in (("max", "gmax"), ("mean", "gmean"), ("update", "update")):
        np.testing.assert_array_equal(view.now[key], s.checks[series][f.selected, i])
    # The bars' tops are log10 of those numbers, one bar a layer, on axes labelled in decades.
    for bars, key in ((view.bar_max, "max"), (view.bar_mean, "mean"), (view.bar_update, "update")):
        np.testing.assert_allclose(bars.opts["y1"], np.log10(view.now[key]))
        assert len(bars.opts["x"]) == len(s.layers)
    assert view.ref.value() == pytest.approx(-3.0)  # the 1e-3 rule of thumb
    # A legend names the input and output layers' colours.
    names = [label.text for _sample, label in view.legend.items]
    assert names[0] == "L1 input" and names[-1] == f"L{len(s.layers)} output"


def test_a_regression_shows_its_fitted_curve_over_the_data(qtbot):
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    win = ShellWindow(ScenarioModel(lab_scenario(dataset="sine")), restore=False, warm_up=False)
    qtbot.addWidget(win)
    win.show()
    win.controller.run_to(60)
    qtbot.waitUntil(lambda: win.mode.output_view.shown is not None and win.mode.output_view.shown[0] > 0)
    f, view = win.controller.frame, win.mode.output_view
    assert view.fit.isVisible() and not view.image.isVisible()
    np.testing.assert_array_equal(view.fit.xData, f.line)
    np.testing.assert_array_equal(view.fit.yData, f.output.values[f.selected][:, 0])
    np.testing.assert_array_equal(view.train.data["x"], f.data.X_train[:, 0])
    np.testing.assert_array_equal(view.train.data["y"], f.data.y_train)
    assert "step" in view.plot.titleLabel.text
    win.close()


def test_digits_show_the_validation_confusion_matrix(qtbot):
    win = _window(qtbot, lab_scenario(dataset="digits"))
    win.controller.run_to(30)
    qtbot.waitUntil(lambda: win.mode.output_view.shown is not None and win.mode.output_view.shown[0] > 0)
    f, view = win.controller.frame, win.mode.output_view
    pred, true = f.output.values[f.selected], f.data.y_val
    cm = view.image.image
    assert cm.shape == (10, 10) and cm.sum() == len(true)
    for t, p in [(0, 0), (3, 5), (9, 9)]:
        assert cm[t, p] == np.sum((true == t) & (pred == p))
    assert not view.train.isVisible()
    assert f"{100 * np.mean(pred == true):.1f}% right" in view.plot.titleLabel.text
    # The axes hold the 10 x 10 matrix (a locked aspect stretched them to -5 … 15) and the
    # title fits its plot.
    (x0, x1), (y0, y1) = view.plot.viewRange()
    assert (x0, x1) == pytest.approx((-0.5, 9.5)) and (y0, y1) == pytest.approx((-0.5, 9.5))
    from PySide6.QtGui import QFontMetrics, QTextDocument

    doc = QTextDocument()
    doc.setHtml(view.plot.titleLabel.text)
    doc.setDefaultFont(view.plot.titleLabel.item.font())
    fm = QFontMetrics(view.plot.titleLabel.item.font())
    assert max(fm.horizontalAdvance(line) for line in doc.toPlainText().splitlines()) <= view.plot.width()
    win.close()


def wait_restyled(win, qtbot):
    qtbot.waitUntil(lambda: not win.restyling, timeout=5000)


def test_light_theme_restyles_the_lab_views(lab_window, qtbot):
    win = lab_window
    win.controller.run_to(20)
    win.act_light.trigger()
    wait_restyled(win, qtbot)
    m = win.mode
    for v in (m.flow_view, m.masks_view, m.output_view):
        assert v.theme is win.theme and v.theme.name == "light"
    assert m.flow_view.backgroundBrush().color().name() == win.theme.background
    assert m.flow_view.legend.labelTextColor().name() == win.theme.foreground
    assert m.output_view.backgroundBrush().color().name() == win.theme.background


def test_projector_mode_keeps_the_lessons_views_and_folds_the_editors(lab_window, qtbot):
    win = lab_window
    win.resize(1280, 720)
    win.controller.run_to(20)
    m = win.mode
    base_pt, board_pt = m.flow_view.theme.axis_pt, m.leaderboard.font().pointSize()
    win.act_projector.trigger()
    wait_restyled(win, qtbot)
    for k in ("setup", "contenders", "train_loss", "accuracy"):
        assert not win.docks[k].isVisible(), k
    for k in ("leaderboard", "masks", "val_loss"):
        assert win.docks[k].isVisible(), k
    assert m.output_view.isVisible() and m.flow_view.isVisible()
    assert m.flow_view.theme.axis_pt > base_pt and m.leaderboard.font().pointSize() > board_pt
    # The masks are shown, not squeezed away under their note.
    qtbot.waitUntil(lambda: m.masks_view.plots.height() >= m.masks_view.plots.minimumHeight() > 0)
    win.act_projector.trigger()
    wait_restyled(win, qtbot)
    for k in ("setup", "accuracy"):  # back as they were (training loss is a tab behind validation's)
        assert win.docks[k].isVisible(), k
    assert m.flow_view.theme.axis_pt == base_pt


def test_at_1280x720_in_projector_mode_the_leaderboard_shows_whole_status_words(qtbot):
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow
    from PySide6.QtGui import QFontMetrics

    sc = lab_scenario(contenders=[RacerConfig("sgd", {"lr": 0.1}), RacerConfig("momentum"), RacerConfig("adam")])
    win = ShellWindow(ScenarioModel(sc), restore=False, warm_up=False)
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    qtbot.waitExposed(win)
    win.controller.run_to(20)
    win.act_projector.trigger()
    wait_restyled(win, qtbot)
    board = win.mode.leaderboard
    col = board.status_column
    fm = QFontMetrics(board.font())
    qtbot.waitUntil(lambda: board.viewport().width() > 0 and board.rowCount() == 3)
    for row in range(3):
        text = board.item(row, col).text()
        assert text == Status.TRAINING.short
        # The whole word and the cell's margins fit: Qt would elide it ("tr…") otherwise.
        assert board.columnWidth(col) >= fm.horizontalAdvance(text) + 6, (board.columnWidth(col), text)
    # Every column is on screen: nothing scrolled out of the board.
    shown = sum(board.columnWidth(c) for c in range(board.columnCount()) if not board.isColumnHidden(c))
    assert shown <= board.viewport().width() + 1
    # The racers still tell apart by their marker, their names elided at worst.
    assert {board.item(r, 1).text() for r in range(3)} == {"SGD", "Momentum", "Adam"}
    win.close()


def early_scenario() -> Scenario:
    sc = lab_scenario(dataset="moons", noise=0.4, hidden=[32, 32], batch_size=8, seed=3, patience=30)
    sc.lab.n = 40
    sc.lab.contenders = [RacerConfig("adam", {"lr": 0.05}, label="fast"), RacerConfig("sgd", {"lr": 0.001}, label="slow")]
    return sc


def test_patience_is_edited_in_the_setup_and_a_contender_stops_early(qtbot):
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    sc = early_scenario()
    sc.lab.patience = 0
    win = ShellWindow(ScenarioModel(sc), restore=False, warm_up=False)
    qtbot.addWidget(win)
    win.show()
    panel = win.mode.setup_panel
    assert panel.patience.value() == 0 and panel.patience.text() == "off"
    panel.patience.setValue(30)  # the widget writes the model, which rebuilds the race
    wait_shown(win, qtbot)
    assert win.model.scenario.lab.patience == 30 and win.mode.session.race.patience == 3
    win.model.set_lab("patience", 40)  # and the model updates the widget
    assert panel.patience.value() == 40
    panel.patience.setValue(30)
    wait_shown(win, qtbot)
    win.controller.run_to(300)
    f, s = win.controller.frame, win.mode.session
    fast = s.race.status_of(0)
    assert fast.kind == Status.STOPPED and 0 < fast.step < 300
    assert f.status[0] == Status.STOPPED and f.status_step[0] == fast.step
    # The leaderboard says so with its step; the curves mark the step with a dashed line.
    win.mode.on_frame(f)
    wait_shown(win, qtbot)
    board = win.mode.leaderboard
    row = board.order.index(0)
    assert board.item(row, board.status_column).text() == f"stopped at {fast.step:,}"
    assert "stopped early" in board.item(row, board.status_column).toolTip()
    headers = [board.horizontalHeaderItem(c).text() for c in range(board.columnCount())]
    assert board.item(row, headers.index("step")).text() == f"{fast.step:,}"
    # Its validation numbers are those of its last check, not a dash.
    last = s.checks.index_of(fast.step // CHECK_EVERY)
    assert np.isfinite(s.checks["val_loss"][0, last]) and f.val_loss[0] == s.checks["val_loss"][0, last]
    assert f.val_acc[0] == s.checks["val_acc"][0, last]
    assert board.item(row, headers.index("val acc")).text() == f"{100 * f.val_acc[0]:.1f}%"
    line = win.mode.val_plot.events[0]
    assert line.isVisible() and line.value() == fast.step and line.label.format == "stopped"
    # Before that step it was still training.
    win.controller.seek(fast.step - CHECK_EVERY)
    assert win.controller.frame.status[0] == Status.TRAINING
    win.close()


def test_closing_a_playing_lab_leaves_no_thread_and_prints_nothing(qtbot, capfd):
    """A training worker asked to stop by pause still finishes its chunk; closing the window
    then must join it, else it emits from its thread into deleted QObjects ("Signal source
    has been deleted")."""
    import threading

    from PySide6.QtCore import QCoreApplication, QEvent

    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    errors = []
    old_hook = threading.excepthook
    threading.excepthook = lambda a: errors.append(a)
    try:
        for pause_first in (True, False):
            win = ShellWindow(ScenarioModel(lab_scenario(hidden=[64, 64, 64])), restore=False, warm_up=False)
            win.show()
            c = win.controller
            c.play()
            qtbot.waitUntil(lambda: win.mode.session.live and win.mode.session.computed > 0, timeout=20_000)
            if pause_first:
                c.pause()  # the worker is told to stop, and still runs its chunk
            win.close()
            assert not [t for t in threading.enumerate() if t.name == "lab-training"]
            win.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
            QCoreApplication.processEvents()
    finally:
        threading.excepthook = old_hook
    out, err = capfd.readouterr()
    assert not errors and "Signal source has been deleted" not in out + err


def test_a_log_axis_within_one_decade_still_has_numbers(qapp):
    """The lab's validation loss often stays within one decade (0.5 to 0.8): its log axis
    labels the 1, 2, 3 and 5 multiples there, or every tick when none is in view; across
    decades, whole decades only."""
    from app.views.curves import LossAxis

    ax = LossAxis("left")
    ax.setLogMode(False, True)
    lg = lambda *xs: [float(np.log10(x)) for x in xs]  # noqa: E731
    ax.setRange(*lg(0.52, 0.76))
    assert ax.tickStrings(lg(0.6, 0.7), 1.0, 1.0) == ["0.6", "0.7"]
    ax.setRange(*lg(0.25, 0.9))
    assert ax.tickStrings(lg(0.3, 0.4, 0.5), 1.0, 1.0) == ["0.3", "", "0.5"]
    ax.setRange(-3.0, 0.0)
    assert [s != "" for s in ax.tickStrings([-2.0, *lg(0.02)], 1.0, 1.0)] == [True, False]


def test_a_picture_shows_every_view_at_the_step_shown(lab_window, tmp_path):
    """Paused, the leaderboard and curves draw a turn after the centre; a picture taken at
    once (the CLI's --screenshot, File > Save image) still shows them at the step shown."""
    win = lab_window
    win.controller.run_to(80)
    assert win.mode.write_image(str(tmp_path / "lab.png"))
    board = win.mode.leaderboard
    headers = [board.horizontalHeaderItem(c).text() for c in range(board.columnCount())]
    assert {board.item(r, headers.index("step")).text() for r in range(board.rowCount())} == {"80"}
    assert win.mode.val_plot.step == 80 and win.mode.train_plot.curves[0].xData[-1] == 80


def _window(qtbot, sc):
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    win = ShellWindow(ScenarioModel(sc), restore=False, warm_up=False)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    wait_shown(win, qtbot)
    return win


def test_zero_gradients_are_a_value_not_a_divergence(qtbot):
    # Zero weights in every layer: the hidden layers' gradients are exactly zero.
    win = _window(qtbot, lab_scenario(init="zeros"))
    win.controller.run_to(100)
    view = win.mode.flow_view
    qtbot.waitUntil(lambda: view.last is not None and view.last[0].size and view.last[0][-1] == 100)
    norms = view.last[1]
    assert (norms == 0).any() and np.isfinite(norms).all()
    img = view.heat.image  # (layers, steps, rgba)
    magenta = np.all(img == np.array([255, 0, 200, 255], dtype=np.uint8), axis=-1)
    assert not magenta.any() and (img[..., 3] == 255).all()
    assert not view.diverged.isVisible() and "black: 0" in view.heat_plot.titleLabel.text
    win.close()


def test_the_steps_after_an_early_stop_are_blank_not_diverged(qtbot):
    win = _window(qtbot, early_scenario())
    win.controller.run_to(300)
    s = win.mode.session
    stop = s.race.status_of(0)
    assert stop.kind == Status.STOPPED and 0 < stop.step < 300
    view = win.mode.flow_view
    qtbot.waitUntil(lambda: view.last is not None and view.last[0].size and view.last[0][-1] == 300)
    steps = view.last[0]
    img = view.heat.image  # contender 0 ("fast") is the one shown; a cell per check
    after = steps[steps % CHECK_EVERY == 0] > stop.step
    assert after.any() and (img[:, after, 3] == 0).all() and (img[:, ~after, 3] == 255).all()
    assert not (view.diverged.isVisible() and "diverged" in view.diverged.toPlainText())
    assert view.stop_line.isVisible() and list(view.stop_line.xData) == [stop.step, stop.step]
    # The bars hold the last step recorded before the stop (not the blank steps after it).
    last = steps[steps <= stop.step][-1]
    assert view.now["step"] == last and np.all(np.isfinite(view.now["max"]))
    win.close()


def test_dropconnect_masks_are_shown_as_the_masked_weight_matrix(qtbot):
    win = _window(qtbot, lab_scenario(dropconnect=0.5))
    win.controller.run_to(20)
    view, s = win.mode.masks_view, win.mode.session
    exact = s.race.masks_at(0, 20)
    names = [n for n in exact if n.endswith(".dropconnect")]
    assert [exact[n].shape for n in names] == [(2, 16), (16, 16)]  # fan_in x fan_out of each hidden layer
    qtbot.waitUntil(lambda: set(view.shown) == set(names))
    for n in names:
        np.testing.assert_array_equal(view.shown[n], exact[n])
    assert view.plots.isVisible() and "No dropout" not in view.note.text()
    assert "weights (DropConnect), a row per input" in view.note.text() and "×2 in training" in view.note.text()
    win.close()


def _two_contenders(selected: int) -> Scenario:
    sc = lab_scenario(contenders=[RacerConfig("sgd", {"lr": 0.1}, label="first"),
                                  RacerConfig("adam", {"lr": 0.01}, label="second")])
    sc.view.selected = selected
    return sc


def test_a_scenarios_view_selected_picks_the_contender_shown(qtbot):
    win = _window(qtbot, _two_contenders(1))
    win.controller.run_to(30)
    qtbot.waitUntil(lambda: win.mode.flow_view.last is not None and win.mode.output_view.shown is not None)
    assert win.controller.frame.selected == 1
    assert "second" in win.mode.flow_view.lines.titleLabel.text
    assert win.mode.output_view.shown[1] == 1
    # Loading another scenario (a lesson) selects its contender too.
    win.model.load(_two_contenders(0))
    wait_shown(win, qtbot)
    qtbot.waitUntil(lambda: win.mode.session is not None and win.mode.session.selected == 0)
    win.model.load(_two_contenders(1))
    qtbot.waitUntil(lambda: win.mode.session is not None and win.mode.shown and win.mode.session.selected == 1)
    win.controller.run_to(20)
    assert win.controller.frame.selected == 1
    win.close()


def test_a_pause_at_step_1_shows_that_steps_gradients(lab_window, qtbot):
    from engine import lab as LAB

    win = lab_window
    wait_shown(win, qtbot)
    win.controller.run_to(1)
    view, s = win.mode.flow_view, win.mode.session
    qtbot.waitUntil(lambda: view.last is not None and list(view.last[0]) == [1])
    norms = view.last[1]
    assert norms.shape == (1, len(s.layers)) and np.all(np.isfinite(norms) & (norms > 0))
    assert view.now["step"] == 1 and np.all(np.isfinite(view.now["max"]))
    assert all(len(c.yData) == 1 and c.opts["symbol"] == "o" for c in view.curves)  # a dot: one point draws no line
    # On to step 25: every one of the first steps, then the checks; recording the first steps
    # changed nothing the race computes (step 10's telemetry as a race recording every 10).
    win.controller.run_to(25)
    qtbot.waitUntil(lambda: view.last[0][-1] == 20)
    assert list(view.last[0]) == [*range(1, 10), 10, 20]
    ref = LAB.lab_race(win.model.scenario.lab, val_every=CHECK_EVERY, tel_every=CHECK_EVERY).advance(10)
    from app.modes.network_lab.session import TELEMETRY

    np.testing.assert_array_equal(view.last[1][9], ref.dense[0, 0, :, TELEMETRY["gnorm"]])


def test_a_narrow_projector_folds_the_validation_loss_and_brings_it_back(lab_window, qtbot):
    win = lab_window
    win.resize(1024, 768)
    win.controller.run_to(20)
    assert win.mode._has_dropout()
    win.act_projector.trigger()
    wait_restyled(win, qtbot)
    qtbot.waitUntil(lambda: not win.docks["val_loss"].isVisible())
    assert win.docks["leaderboard"].isVisible() and win.docks["masks"].isVisible()  # this lab drops units
    assert win.mode.output_view.isVisible() and win.mode.flow_view.isVisible()
    win.act_projector.trigger()
    wait_restyled(win, qtbot)
    qtbot.waitUntil(lambda: win.docks["val_loss"].isVisible())
