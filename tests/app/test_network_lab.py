"""The network lab in the window: switching to it and back, building networks from its setup,
the views holding the engine's numbers, a diverging contender, playback and files."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

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
    f = win.controller.frame
    assert f.status[0] == Status.DIVERGED and f.status[1] == Status.TRAINING
    assert "diverged" in [lk.label.format for lk in win.mode.val_plot.events if lk.isVisible()]
    board = win.mode.leaderboard
    assert board.item(board.order.index(0), board.status_column).text() == "diverged"
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
    c.seek(30)
    assert c.frame.step == 30
    c.reset()
    assert c.frame.step == 0


def test_setup_edits_rebuild_the_network(lab_window, qtbot):
    win = lab_window
    panel = win.mode.setup_panel
    panel.depth.setValue(4)
    assert win.model.scenario.lab.hidden == [16, 16, 16, 16]
    assert len(win.mode.session.layers) == 5 and win.controller.frame.step == 0
    panel.table.item(0, 0).setText("8")
    assert win.model.scenario.lab.hidden[0] == 8
    assert win.mode.session.race.net.dense[0].fan_out == 8
    panel.activation.setCurrentIndex(panel.activation.findData("relu"))
    assert win.model.scenario.lab.activation == "relu"
    # Identity needs square layers: greyed out with the reason.
    row = panel.init.findData("identity")
    item = panel.init.model().item(row)
    assert not item.isEnabled() and "square" in item.toolTip()
    panel.dataset.setCurrentIndex(panel.dataset.findData("moons"))
    assert win.mode.session.race.X.shape[1] == 2 and win.model.scenario.lab.dataset == "moons"


def test_save_and_load_give_the_same_setup(lab_window, tmp_path):
    win = lab_window
    win.model.set_lab("activation", "relu")
    win.mode.contenders.add_racer("rmsprop")
    path = str(tmp_path / "lab.toml")
    assert win.write_scenario(path)
    saved = io.load(path)
    assert saved.mode == "lab" and saved.lab == win.model.scenario.lab
    win.model.set_lab("activation", "tanh")
    assert win.load_scenario(path)
    assert win.model.scenario.lab == saved.lab and win.mode.session.race.K == 3


def test_leaderboard_row_selects_the_contender_shown(lab_window):
    win = lab_window
    win.controller.run_to(30)
    win.mode._select_enabled(1)
    assert win.controller.frame.selected == 1
    assert "Adam" in win.mode.flow_view.lines.titleLabel.text
