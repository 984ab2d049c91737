"""The race window end to end (pytest-qt, offscreen)."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QFontMetrics, QImage

from engine.optim import optimizers as O
from engine.race.race import run_race
from engine.scenario import RacerConfig, Scenario, classic_six
from engine.race.status import Status

from .conftest import make_window


def heads_on_screen(win) -> np.ndarray:
    d = win.mode.surface_view.heads.data
    return np.column_stack([d["x"], d["y"]])


def engine_positions(scenario: Scenario, step: int) -> np.ndarray:
    r = run_race(scenario.surface, scenario.start_point(), [c.to_racer() for c in scenario.enabled_racers()],
                 step, noise=scenario.noise, seed=scenario.seed, surface_params=scenario.surface_params)
    return r.positions[:, step]


def test_window_opens_with_menus_docks_and_a_first_frame(window):
    assert window.isVisible()
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "View", "Race", "Lessons", "Help"]
    assert set(window.docks) >= {"racers", "surface", "leaderboard", "loss", "grad", "inspector"}
    f = window.controller.frame
    assert f is not None and f.step == 0 and f.n_racers == 6
    assert window.mode.leaderboard.rowCount() == 6
    assert window.mode.surface_view.background.picture is not None
    assert len(window.mode.surface_view.background.lines) > 100  # iso-lines


def test_adding_and_removing_racers(window, qtbot):
    panel = window.mode.racers_panel
    adam = next(a for a in panel.add_button.menu().actions() if a.text() == "Adam")
    adam.trigger()
    assert panel.list.count() == 7
    assert window.mode.leaderboard.rowCount() == 7
    assert window.controller.frame.n_racers == 7
    panel.list.setCurrentRow(0)
    qtbot.mouseClick(panel.remove_button, Qt.LeftButton)
    assert panel.list.count() == 6
    assert [r.optimizer for r in window.model.scenario.racers][0] == "momentum"
    assert window.controller.frame.n_racers == 6
    # Unticking a racer leaves it in the list but out of the race.
    panel.list.item(0).setCheckState(Qt.Unchecked)
    assert not window.model.scenario.racers[0].enabled
    assert window.controller.frame.n_racers == 5


def test_two_racers_with_the_same_optimizer_get_distinct_names(qtbot):
    sc = Scenario(surface="beale", racers=[RacerConfig("adam", {"lr": 0.1}), RacerConfig("adam", {"lr": 0.001})])
    win = make_window(qtbot, sc)
    names = [lk.name for lk in win.controller.frame.looks]
    assert len(set(names)) == 2 and all("Adam" in n for n in names)
    win.close()


def test_editing_a_hyperparameter_restarts_the_race_with_the_new_value(window, qtbot):
    window.controller.run_to(100)
    assert window.controller.k == 100
    window.mode.racers_panel.list.setCurrentRow(5)  # Adam
    box = window.mode.racers_panel.editors["lr"].box
    box.setValue(0.2)
    sc = window.model.scenario
    assert sc.racers[5].hyper["lr"] == pytest.approx(0.2)
    assert window.controller.k == 0
    assert window.mode.session.race.hyper[5, 0] == pytest.approx(0.2)
    window.controller.run_to(30)
    assert np.allclose(heads_on_screen(window), engine_positions(sc, 30))


def test_playing_frames_puts_each_head_at_the_engine_position(window, qtbot):
    window.model.set_view("steps_per_frame", 7)
    seen = []
    window.controller.frame_ready.connect(lambda f: seen.append(f.step))
    window.controller.play()
    qtbot.waitUntil(lambda: len(seen) >= 5, timeout=5000)
    window.controller.pause()
    k = window.controller.k
    assert k > 0 and seen[-1] == k
    # Frames advance by the speed setting (or less while the engine catches up).
    assert all(0 < b - a <= 7 for a, b in zip(seen, seen[1:]))
    assert np.allclose(heads_on_screen(window), engine_positions(window.model.scenario, k))
    # The trail layer drew only new segments while playing: one full redraw per jump at most.
    assert window.mode.surface_view.trails.full_redraws <= 3


def test_clicking_the_surface_moves_the_start(window, qtbot):
    sv = window.mode.surface_view
    target = QPointF(-2.0, 2.5)
    px = sv.mapFromScene(sv.vb.mapViewToScene(target))
    qtbot.mouseClick(sv.viewport(), Qt.LeftButton, pos=QPoint(px.x(), px.y()))
    x, y = window.model.scenario.start
    tol = 2 * max(sv.vb.viewPixelSize())
    assert abs(x - target.x()) < tol and abs(y - target.y()) < tol
    assert np.allclose(window.mode.session.race.start, (x, y))
    assert window.controller.k == 0
    assert np.allclose(heads_on_screen(window), [(x, y)] * 6)


def test_scrubbing_the_timeline_shows_exact_steps(window):
    window.controller.run_to(600)
    window.timeline.setValue(123)
    assert window.controller.k == 123
    assert window.step_label.text().startswith("123")
    assert np.allclose(heads_on_screen(window), engine_positions(window.model.scenario, 123))


def test_scrubbing_outside_the_buffer_recomputes_from_checkpoints(qtbot, monkeypatch):
    from app.modes.surface_race import session as C

    monkeypatch.setattr(C, "EXACT_WINDOW", 50)
    sc = Scenario(surface="rosenbrock", racers=[RacerConfig("sgd", {"lr": 1e-3}), RacerConfig("adam", {"lr": 1e-2})])
    win = make_window(qtbot, sc)
    win.mode.history_capacity = 64
    win.mode.rebuild()
    win.controller.run_to(3000)
    assert win.mode.session.history.stride > 1
    win.controller.seek(1237)  # neither buffered nor on the thinned history's grid
    assert np.allclose(heads_on_screen(win), engine_positions(sc, 1237))
    win.close()


def test_a_huge_learning_rate_shows_diverged_and_the_app_keeps_running(qtbot):
    sc = Scenario(surface="beale", racers=[RacerConfig("sgd", {"lr": 5.0}), RacerConfig("adam", {"lr": 0.03})])
    win = make_window(qtbot, sc)
    win.controller.run_to(300)
    board = win.mode.leaderboard
    rows = {board.item(r, 1).text(): r for r in range(board.rowCount())}
    assert board.item(rows["SGD"], 5).text() == Status.DIVERGED.short
    k = int(board.item(rows["SGD"], 4).text().replace(",", ""))
    assert 0 < k < 300 and k == win.controller.frame.status_step[0]  # the step it diverged at
    assert board.item(board.rowCount() - 1, 1).text().endswith("SGD")  # diverged ranks last
    assert int(win.controller.frame.status[0]) == Status.DIVERGED
    win.controller.play()
    qtbot.waitUntil(lambda: win.controller.k > 300, timeout=10_000)
    win.controller.pause()
    win.grab()  # repaints with a diverged racer without raising
    win.close()


def test_settings_persist_across_a_restart(qtbot):
    win = make_window(qtbot, restore=True)
    win.model.set_surface("himmelblau")
    win.model.add_racer("lion", {"lr": 0.01})
    win.model.set_view("theme", "light")
    win.resize(1100, 700)
    racers = [(r.optimizer, r.hyper) for r in win.model.scenario.racers]
    win.close()
    again = make_window(qtbot, restore=True)
    assert again.model.scenario.surface == "himmelblau"
    assert [(r.optimizer, r.hyper) for r in again.model.scenario.racers] == racers
    assert again.model.scenario.view.theme == "light" and again.act_light.isChecked()
    again.close()


def test_widgets_and_model_follow_each_other(window, qtbot):
    # model -> widgets
    window.mode.racers_panel.list.setCurrentRow(0)
    window.model.set_hyper(0, "lr", 0.0042)
    assert window.mode.racers_panel.editors["lr"].box.value() == pytest.approx(0.0042)
    window.model.set_view("steps_per_frame", 100)
    assert window.speed_label.text().startswith("100 ")
    window.model.set_surface("rosenbrock")
    assert window.mode.surface_panel.combo.currentData() == "rosenbrock"
    assert set(window.mode.surface_panel.editors) == {"a", "b"}
    # widgets -> model
    window.speed.setValue(0)
    assert window.model.scenario.view.steps_per_frame == 1
    window.mode.surface_panel.editors["b"].box.setValue(50.0)
    assert window.model.scenario.surface_params["b"] == pytest.approx(50.0)
    window.mode.surface_panel.combo.setCurrentIndex(window.mode.surface_panel.combo.findData("saddle"))
    assert window.model.scenario.surface == "saddle"
    window.act_loop.trigger()
    assert window.model.scenario.view.loop


def test_keyboard_drives_playback(window, qtbot):
    window.mode.surface_view.setFocus()
    qtbot.keyClick(window, Qt.Key_Right)
    qtbot.keyClick(window, Qt.Key_Right)
    assert window.controller.k == 2
    qtbot.keyClick(window, Qt.Key_Left)
    assert window.controller.k == 1
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.controller.playing
    qtbot.keyClick(window, Qt.Key_Space)
    assert not window.controller.playing
    qtbot.keyClick(window, Qt.Key_R)
    assert window.controller.k == 0


def test_head_marker_is_drawn_in_its_colour_where_the_engine_puts_it(window, qtbot):
    window.controller.run_to(50)
    with window.mode.surface_view.whole_layers():
        img = window.mode.surface_view.grab().toImage().convertToFormat(QImage.Format_RGB32)
    # Racers whose head no other head covers (the map leaves room for the colour bar: at
    # this size some heads overlap at step 50).
    view = window.mode.surface_view
    px = np.array([[view.head_scene_pos(r).x(), view.head_scene_pos(r).y()] for r in range(6)])
    d = np.hypot(*(px[:, None] - px[None]).transpose(2, 0, 1)) + np.eye(6) * 1e9
    clear = [r for r in range(6) if d[r].min() > view.theme.head_size]
    assert clear
    for r in clear:
        p = view.head_scene_pos(r)
        colours = {img.pixelColor(int(p.x()) + dx, int(p.y()) + dy).name() for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
        assert window.controller.frame.looks[r].color.lower() in colours


def test_inspector_and_arrows_explain_the_selected_racer(window):
    window.controller.run_to(10)
    window.model.set_view("selected", 5)  # Adam
    text = window.mode.inspector.toPlainText()
    e = window.mode.session.explain(window.mode._selected_enabled(), window.controller.k)
    assert e.optimizer == "adam" and e.t == 11
    assert "step 11" in text and "m̂ = m / (1 − β1ᵗ)" in text and "1 − β2ᵗ" in text
    assert all(f"{v:+.4g}" in text for v in e.step)
    assert all(line.isVisible() for line in window.mode.surface_view.arrow_lines)  # −g, momentum, step
    window.model.set_view("show_inside_step", False)
    assert not window.mode.surface_view.arrow_lines[0].isVisible()


def test_theory_overlay_on_a_quadratic(qtbot, two_racers):
    win = make_window(qtbot, two_racers)
    win.model.set_view("show_theory", True)
    assert "κ = 25" in win.mode.surface_view.theory_label.text()
    assert win.mode.surface_view.theory_label.isVisible()
    assert len(win.mode.surface_view.theory.getData()[0]) == 4
    assert win.mode.racers_panel.editors["lr"].slider.marks  # stability limit on the lr slider
    win.model.set_surface("beale")  # not quadratic: no overlay
    assert not win.mode.surface_view.theory_label.isVisible()
    win.close()


def test_3d_action_is_disabled_with_a_reason_offscreen(window):
    assert not window.mode.act_3d.isEnabled()
    assert "OpenGL" in window.mode.act_3d.toolTip()


def test_curves_repaint_with_data(window, qtbot):
    window.controller.run_to(400)
    for plot in (window.mode.loss_plot, window.mode.grad_plot):
        img = plot.grab()
        assert not img.isNull()
        x, y = plot.curves[0].getData()
        assert len(x) > 10 and np.all(np.isfinite(y))


def test_warm_up_runs_in_a_worker_then_the_race_starts(qtbot):
    win = make_window(qtbot, Scenario(surface="booth", racers=classic_six("booth")), warm_up=True)
    qtbot.waitUntil(lambda: win.ready, timeout=60000)
    assert not win.warmup.running or win.warmup.wait(5000)
    assert win.controller.frame.n_racers == 6
    win.close()


def test_a_custom_formula_races_and_its_parameters_get_editors(window):
    from engine.formula import symbolic as F

    s = F.compile("(a - x)^2 + b*(y - x^2)^2", {"a": 1.0, "b": 100.0}, domain=((-2, 2), (-1, 3)), start=(-1.2, 1.0))
    window.model.set_formula(s)
    assert window.mode.surface_panel.combo.currentText().startswith("Custom")
    assert set(window.mode.surface_panel.editors) == {"a", "b"}
    window.mode.surface_panel.editors["b"].box.setValue(10.0)
    window.controller.run_to(50)
    sc = window.model.scenario
    r = run_race(s, (-1.2, 1.0), [c.to_racer() for c in sc.enabled_racers()], 50, surface_params={"b": 10.0})
    assert np.allclose(heads_on_screen(window), r.positions[:, 50])
    window.model.set_surface("booth")
    assert window.mode.surface_panel.combo.findData("__formula__") < 0


def test_cli_screenshot_renders_the_window_after_n_steps(tmp_path, qapp):
    from app.cli import main

    out = tmp_path / "shot.png"
    assert main(["--surface", "himmelblau", "--racers", "sgd,adam", "--screenshot", str(out),
                 "--after-steps", "40", "--size", "1024x700"]) == 0
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1024, 700)
    assert not (tmp_path / "settings.ini").exists()  # a screenshot run leaves settings alone


def test_cli_rejects_unknown_ids_with_the_known_ones(capsys):
    from app.cli import main

    with pytest.raises(SystemExit):
        main(["--surface", "nowhere"])
    assert "unknown surface 'nowhere'; known: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--racers", "sgd,adamm"])
    assert f"unknown optimizer 'adamm'; known: {', '.join(O.names())}" in capsys.readouterr().err


def wait_restyled(window, qtbot):
    """Theme and projector transitions restyle one view per event: wait for the last step."""
    qtbot.waitUntil(lambda: not window.restyling, timeout=5000)


def test_projector_mode_scales_up_and_folds_the_editing_panels(window, qtbot):
    base = window.theme.trail_width
    base_pt = window.mode.leaderboard.font().pointSize()
    window.act_projector.trigger()
    assert window.model.scenario.view.projector and window.restyling
    assert not window.docks["racers"].isVisible() and window.docks["leaderboard"].isVisible()
    wait_restyled(window, qtbot)
    assert window.mode.inspector.theme is window.theme
    assert window.theme.trail_width > base and window.mode.surface_view.trails.width > base
    assert window.mode.leaderboard.font().pointSize() > base_pt
    with qtbot.waitSignal(window.restyled, timeout=5000):
        window.act_projector.trigger()
    assert not window.restyling
    assert window.docks["racers"].isVisible() and window.docks["grad"].isVisible()
    assert window.theme.trail_width == base == window.mode.surface_view.trails.width
    assert window.mode.leaderboard.font().pointSize() == base_pt
    assert window.mode.loss_plot.updatesEnabled() and window.mode.grad_plot.updatesEnabled()
    # Toggled twice within one event, the second transition supersedes the first.
    window.act_projector.trigger()
    window.act_projector.trigger()
    wait_restyled(window, qtbot)
    assert window.docks["racers"].isVisible() and window.mode.surface_view.theme is window.theme
    assert window.theme.trail_width == base
    # A theme change that supersedes a projector transition still leaves the plots painting.
    window.act_projector.trigger()
    window.act_light.trigger()
    wait_restyled(window, qtbot)
    assert window.mode.loss_plot.updatesEnabled() and window.mode.grad_plot.updatesEnabled()
    assert window.mode.inspector.theme is window.theme and window.theme.name == "light"


def test_run_to_a_far_step_in_slices_shows_that_step(qtbot):
    # Noise keeps every racer running (none finishes), so the race really reaches the step.
    sc = Scenario(surface="rastrigin", racers=[RacerConfig("sgd", {"lr": 1e-3}), RacerConfig("adam", {"lr": 1e-3})],
                  noise=1.0)
    win = make_window(qtbot, sc)
    worker = win.run_to(20_000)
    assert win.controller.busy and worker is not None
    win.controller.tick()  # the clock leaves the session alone while the worker computes
    qtbot.waitUntil(lambda: not win.controller.busy, timeout=60_000)
    assert not win.controller.all_done()
    assert win.controller.k == 20_000 == win.timeline.value() == win.controller.frame.step
    win.close()


def test_trails_drawn_frame_by_frame_match_a_full_redraw(window, qtbot):
    sv = window.mode.surface_view
    window.model.set_view("steps_per_frame", 9)
    window.controller.compute(600, budget_s=None)  # ticks then play computed steps, whatever the load
    for _ in range(30):
        window.controller.tick()
        sv.viewport().repaint()
    assert window.controller.k == 270
    # Grabbed whole: on screen a redraw is spread over paints by a time budget, which a busy
    # machine would cut at any point.
    with sv.whole_layers():
        incremental = sv.grab().toImage().convertToFormat(QImage.Format_RGB32)
        sv.trails.invalidate()
        full = sv.grab().toImage().convertToFormat(QImage.Format_RGB32)
    a = np.frombuffer(incremental.constBits(), np.uint8).astype(int)
    b = np.frombuffer(full.constBits(), np.uint8).astype(int)
    assert sv.trails.full_redraws >= 2
    sv.trails.hide()
    with sv.whole_layers():
        bare = sv.grab().toImage().convertToFormat(QImage.Format_RGB32)
    sv.trails.show()
    c = np.frombuffer(bare.constBits(), np.uint8).astype(int)
    drawn = np.mean(np.abs(b - c) > 60)
    assert drawn > 0.0002  # the trails are there to compare (hundreds of pixels at least)
    # Antialiased joints differ by a few levels at most; a missing or misplaced segment would not.
    assert np.mean(np.abs(a - b) > 60) < 0.05 * drawn


def test_more_racers_while_playing_before_a_repaint_keeps_drawing(window, qtbot):
    """Frames of a grown race can arrive before the map repaints (a busy event loop): the
    trail layer must not append them to the old race's per-racer buffers."""
    sv = window.mode.surface_view
    window.controller.tick()
    sv.viewport().repaint()
    window.mode.racers_panel.all_button.click()
    window.controller.compute(200, budget_s=None)
    for _ in range(3):
        window.controller.tick()  # continuous frames of the new race, no paint in between
    sv.viewport().repaint()
    window.controller.tick()
    sv.viewport().repaint()
    assert sv.trails._pending is not None and len(sv.trails._pending) == window.controller.frame.n_racers == len(O.names())


def test_playback_buffers_stay_bounded_in_a_long_race(qtbot, monkeypatch):
    from app.modes.surface_race import session as S

    monkeypatch.setattr(S, "EXACT_WINDOW", 500)
    sc = Scenario(surface="rastrigin", racers=[RacerConfig("sgd", {"lr": 1e-3}), RacerConfig("adam", {"lr": 1e-3})],
                  noise=1.0)
    win = make_window(qtbot, sc)
    win.mode.history_capacity = 256
    win.mode.rebuild()
    s = win.mode.session
    sizes = []
    for n in (2_000, 20_000, 60_000):
        win.controller.run_to(n)
        buffered = sum(ch.positions.shape[1] for ch in s._chunks)
        sizes.append((s.history.nbytes(), buffered))
    assert sizes[0][0] == sizes[-1][0]  # the history is preallocated and never grows
    assert all(b <= 500 + 50_000 for _, b in sizes)  # at most the window plus one computed piece
    assert s.history.n <= 256 and s.history.stride >= 256
    win.close()


def test_loss_plot_uses_a_symmetric_log_scale_where_the_surface_is_unbounded(qtbot):
    from app.views.curves import inverse_symlog, symlog

    sc = Scenario(surface="saddle", racers=[RacerConfig("sgd", {"lr": 0.05})])
    win = make_window(qtbot, sc)
    win.controller.run_to(150)
    plot = win.mode.loss_plot
    assert plot.scale == "symlog" and plot.axis.symlog and not plot.plot.ctrl.logYCheck.isChecked()
    x, y = plot.curves[0].getData()
    f = win.controller.frame.loss[0]
    assert y[-1] == pytest.approx(symlog(f)) and inverse_symlog(y[-1]) == pytest.approx(f)
    assert f < -10  # it escaped downhill: negative values are drawn, not dropped
    ticks = plot.axis.tickValues(-3.1, 1.1, 800)[0][1]
    assert plot.axis.tickStrings(ticks, 1, 1) == ["-1,000", "-100", "-10", "-1", "0", "1", "10"]
    # On a short panel labels that would overlap are left out, never 0 or the big decades.
    fm = QFontMetrics(plot.axis.style["tickFont"])
    for size in (100, 200, 300):
        ticks = plot.axis.tickValues(-3.1, 1.1, size)[0][1]
        px = np.diff(ticks) * size / 4.2
        assert 0.0 in ticks and symlog(-1000.0) in ticks and np.all(px >= fm.height())
    win.close()


def test_on_a_saddle_escaped_racers_lead_the_board_earliest_first(qtbot):
    sc = Scenario(surface="saddle", racers=classic_six("saddle"))
    win = make_window(qtbot, sc)
    win.controller.run_to(300)
    frame = win.controller.frame
    escaped = [r for r in range(frame.n_racers) if frame.status[r] == Status.ESCAPED]
    racing = [r for r in range(frame.n_racers) if frame.status[r] == Status.RACING]
    assert escaped and racing  # the case to rank: some ran off downhill, some still racing
    order = win.mode.leaderboard.order
    assert order[:len(escaped)] == sorted(escaped, key=lambda r: (frame.status_step[r], r))
    assert win.mode.leaderboard.item(0, 5).text() == Status.ESCAPED.short
    win.close()


def test_saved_image_right_after_a_zoom_is_drawn_whole(window, qtbot, tmp_path):
    """On screen the map stretches its cached layers while the view moves and draws them
    again once it settles; a saved image must never be the stretched one."""
    sv = window.mode.surface_view
    window.controller.run_to(200)
    sv.viewport().repaint()
    sv.vb.scaleBy((0.5, 0.5))
    sv.viewport().repaint()  # on screen: the old image, stretched
    assert sv.trails._settle.isActive()
    assert window.write_image(str(tmp_path / "now.png"))
    qtbot.waitUntil(lambda: not sv.trails._settle.isActive(), timeout=2000)
    for _ in range(50):  # settled: drawn again at the new scale, a few ms per paint
        sv.viewport().repaint()
        if not (sv.trails.busy or sv.background.busy):
            break
    assert window.write_image(str(tmp_path / "later.png"))
    now, later = (QImage(str(tmp_path / n)).convertToFormat(QImage.Format_RGB32) for n in ("now.png", "later.png"))
    a, b = (np.frombuffer(i.constBits(), np.uint8).astype(int) for i in (now, later))
    assert np.mean(np.abs(a - b) > 40) < 1e-4


def test_a_narrow_projector_folds_the_loss_curves_so_the_board_shows_every_racer(window, qtbot):
    window.resize(1024, 768)
    window.controller.run_to(30)
    window.act_projector.trigger()
    wait_restyled(window, qtbot)
    qtbot.waitUntil(lambda: not window.docks["loss"].isVisible())
    board = window.mode.leaderboard
    assert board.rowCount() == 6
    qtbot.waitUntil(lambda: board.visualItemRect(board.item(5, 1)).bottom() <= board.viewport().height())
    window.act_projector.trigger()
    wait_restyled(window, qtbot)
    qtbot.waitUntil(lambda: window.docks["loss"].isVisible())
