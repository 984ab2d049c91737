"""The window's File menu: export entries, atomic image saving, opening a formula scenario
without compiling on the GUI thread."""
import numpy as np
from PySide6.QtGui import QImage

from engine import scenario as scenario_io
from engine.race.race import run_race
from engine.scenario import Scenario, classic_six


def test_file_menu_offers_video_and_data_export(window, monkeypatch):
    texts = [a.text() for a in window.file_menu.actions()]
    assert "Export video…" in texts and "Export data (CSV)…" in texts
    calls = []
    import app.export.dialog as dialog

    monkeypatch.setattr(dialog, "export_video", lambda parent, sc, path="": calls.append(sc) or None)
    window.controller.play()
    window.act_export_video.trigger()
    assert not window.controller.playing  # paused while the dialog is open
    assert len(calls) == 1 and calls[0] is not window.model.scenario  # a snapshot, not the live model
    assert [r.optimizer for r in calls[0].racers] == [r.optimizer for r in window.model.scenario.racers]


def test_save_image_writes_a_png_and_never_a_partial_file(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    out = tmp_path / "race.png"
    assert window.write_image(str(out))
    img = QImage(str(out))
    assert img.width() > 100 and img.height() > 100
    assert [p.name for p in tmp_path.iterdir()] == ["race.png"]
    assert not window.write_image(str(tmp_path / "missing-folder" / "x.png"))
    assert [p.name for p in tmp_path.iterdir()] == ["race.png"]
    assert shown and "missing-folder" in shown[0]


def test_opening_a_formula_scenario_compiles_in_the_background(window, qtbot, tmp_path):
    sc = Scenario(surface="rosenbrock", racers=classic_six("rosenbrock"),
                  formula={"formula": "(1 - x)^2 + 100*(y - x^2)^2", "domain": [[-2, 2], [-1, 3]],
                           "start": [-1.2, 1.0]})
    path = tmp_path / "f.toml"
    scenario_io.save(sc, path)
    assert window.load_scenario(str(path))
    job = window.mode.formula_job
    qtbot.waitUntil(lambda: not job.running and bool(window.model.scenario.formula), timeout=120_000)
    qtbot.waitUntil(lambda: window.model.surface_spec().formula.startswith("(1"), timeout=5_000)
    window.controller.run_to(30)
    r = run_race("rosenbrock", (-1.2, 1.0), [c.to_racer() for c in sc.enabled_racers()], 30)
    d = window.mode.surface_view.heads.data
    assert np.allclose(np.column_stack([d["x"], d["y"]]), r.positions[:, 30], rtol=1e-9, atol=1e-12)


def test_a_bad_scenario_file_is_refused_with_its_name(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    bad = tmp_path / "bad.toml"
    bad.write_text("schema = 1\n[[racers]]\noptimizer = 'nope'\n")
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    before = window.model.scenario
    assert not window.load_scenario(str(bad))
    assert shown and "bad.toml" in shown[0] and "nope" in shown[0]
    assert window.model.scenario is before


def test_a_narrow_leaderboard_drops_optional_columns_but_keeps_the_status(window):
    board = window.mode.leaderboard
    board.resize(2000, board.height())
    assert not any(board.isColumnHidden(c) for c in range(6))
    board.resize(board.columnWidth(0) + board.columnWidth(1) + board.columnWidth(2) + board._status_width + 30,
                 board.height())
    assert board.isColumnHidden(3) and board.isColumnHidden(4) and not board.isColumnHidden(5)
