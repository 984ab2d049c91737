"""The formula editor: live preview while typing, inline errors with their column, accepting
(compiled off the GUI thread), a responsive UI during a symbolic blow-up, and the library."""
import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialog

from app.formula.dialog import EXAMPLES, FormulaDialog
from app.formula.library import FormulaEntry, FormulaLibrary
from engine.formula import symbolic as F
from engine.race.race import run_race
from engine.race.status import Status


@pytest.fixture(scope="module", autouse=True)
def formula_cache(tmp_path_factory):
    """The session's formula cache (shared with tests/engine/test_formula.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPTIRACE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "formula-cache"))
        yield


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTIRACE_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture
def dialog(qtbot):
    d = FormulaDialog()
    qtbot.addWidget(d)
    d.show()
    yield d
    d.close()


def _type(qtbot, edit, text):
    edit.clear()
    qtbot.keyClicks(edit, text)


def test_typing_updates_the_preview(qtbot, dialog):
    _type(qtbot, dialog.formula_edit, "(x - 0.5)^2 + 3*(y - 1)^2")
    # Debounced: the preview follows once typing pauses.
    qtbot.waitUntil(lambda: dialog.error is None and not dialog._debounce.isActive(), timeout=3000)
    img = dialog.image.image
    (x0, x1), (y0, y1) = EXAMPLES[0].domain
    xs, ys = np.linspace(x0, x1, img.shape[1]), np.linspace(y0, y1, img.shape[0])
    j, i = np.unravel_index(np.nanargmin(img), img.shape)
    # The darkest pixel sits at the bowl's bottom (0.5, 1).
    assert abs(xs[i] - 0.5) <= (x1 - x0) / len(xs) and abs(ys[j] - 1.0) <= (y1 - y0) / len(ys)
    assert dialog.ok_button.isEnabled()


def test_undefined_region_is_masked_in_the_preview(qtbot, dialog):
    _type(qtbot, dialog.formula_edit, "log(x) + y^2")
    qtbot.waitUntil(lambda: dialog.error is None and not dialog._debounce.isActive(), timeout=3000)
    img = dialog.image.image
    xs = np.linspace(*EXAMPLES[0].domain[0], img.shape[1])
    assert np.all(np.isnan(img[:, xs <= 0])) and np.all(np.isfinite(img[:, xs > 0]))


def test_error_shows_inline_with_its_column(qtbot, dialog):
    _type(qtbot, dialog.formula_edit, "x^2 + zz*y")
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=3000)
    assert dialog.error_position == 6
    lines = dialog.error_label.text().splitlines()
    assert "unknown name 'zz'" in lines[0]
    assert lines[1].strip() == "x^2 + zz*y" and lines[2].index("^") - lines[1].index("x") == 6
    assert not dialog.ok_button.isEnabled()
    sel = dialog.formula_edit.extraSelections()
    assert len(sel) == 1 and sel[0].cursor.selectionStart() == 6
    # Fixing the text clears the error.
    _type(qtbot, dialog.formula_edit, "x^2 + 2*y^2")
    qtbot.waitUntil(lambda: dialog.error is None, timeout=3000)
    assert dialog.error_label.text() == "" and dialog.ok_button.isEnabled()
    assert dialog.formula_edit.extraSelections() == []


def test_parameter_errors_name_the_field(qtbot, dialog):
    _type(qtbot, dialog.params_edit, "a = 1, b")
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=3000)
    assert dialog.error.field == "params" and dialog.error_label.text().startswith("params:")


def test_accepting_compiles_races_and_keeps_it_in_the_library(qtbot, dialog, config):
    dialog.name_edit.setText("banana")
    with qtbot.waitSignal(dialog.formulaAccepted, timeout=300_000) as got:
        qtbot.mouseClick(dialog.ok_button, Qt.LeftButton)
        assert dialog.compiling and not dialog.ok_button.isEnabled()
    surface = got.args[0]
    assert isinstance(surface, F.FormulaSurface) and dialog.surface is surface
    assert dialog.result() == QDialog.Accepted and surface.text == EXAMPLES[0].formula
    assert "df/dx" in dialog.status_label.text()
    r = run_race(surface, surface.start, ["newton", "adam"], 20)
    assert r.status[0].kind == Status.FINISHED  # Newton reaches the numeric minimum (1, 1)
    assert np.allclose(r.race.surface.minima, [[1.0, 1.0]], atol=1e-8)
    # A restart: a new library object reads the file back, and a new dialog lists it.
    lib = FormulaLibrary()
    assert lib.path.parent == config and lib.names() == ["banana"]
    e = lib.get("banana")
    assert e.formula == EXAMPLES[0].formula and e.params == {"a": 1.0, "b": 100.0}
    d2 = FormulaDialog()
    qtbot.addWidget(d2)
    names = [d2.library_box.itemText(i) for i in range(d2.library_box.count())]
    assert "banana" in names
    d2.formula_edit.setPlainText("x + y")
    d2.library_box.setCurrentIndex(names.index("banana"))
    d2.library_box.activated.emit(names.index("banana"))
    assert d2.formula_edit.toPlainText() == EXAMPLES[0].formula and d2.params_edit.text() == "a = 1, b = 100"
    d2.close()


def test_ui_stays_responsive_while_a_blow_up_is_ended(qtbot, dialog):
    F.start_worker()  # its start-up is not part of the 2 s limit
    ticks = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    _type(qtbot, dialog.formula_edit, "x + y + (9^9^9^9)^0")
    dialog.refresh()
    assert dialog.error is None  # numpy previews it (inf^0 = 1); sympy computes 9^9^9 exactly
    dialog.accept()
    qtbot.waitUntil(lambda: not dialog.compiling, timeout=60_000)
    timer.stop()
    assert "longer than 2 s" in dialog.error_label.text()
    assert len(ticks) >= 20  # the event loop kept running through the 2 s of symbolic work
    # The dialog stays open with the error; OK comes back once the formula is edited.
    assert dialog.isVisible() and not dialog.ok_button.isEnabled()
    _type(qtbot, dialog.formula_edit, "x + y + 9^9")
    qtbot.waitUntil(dialog.ok_button.isEnabled, timeout=3000)


# -- the library file -----------------------------------------------------------------------------
def test_library_round_trip_and_atomic_writes(config):
    lib = FormulaLibrary()
    lib.add(FormulaEntry("bowl", "x^2 + y^2", {}, ((-1.0, 1.0), (-2.0, 2.0)), (0.5, 0.5)))
    lib.add(FormulaEntry("ravine", "x^2 + k*y^2", {"k": 25.0}, minima=((0.0, 0.0),)))
    lib.add(FormulaEntry("bowl", "2*x^2 + y^2"))  # same name replaces
    again = FormulaLibrary()
    assert again.names() == ["bowl", "ravine"] and again.get("bowl").formula == "2*x^2 + y^2"
    assert again.get("ravine") == lib.get("ravine")
    assert [p.name for p in config.iterdir()] == ["formulas.toml"]  # no temporary files left
    again.remove("bowl")
    assert FormulaLibrary().names() == ["ravine"]
    with pytest.raises(KeyError, match="no formula named"):
        again.remove("bowl")


def test_unreadable_library_is_kept_aside_not_lost(config, qtbot):
    config.mkdir(parents=True)
    (config / "formulas.toml").write_text("this is [not toml", encoding="utf-8")
    lib = FormulaLibrary()
    assert lib.names() == [] and "moved to formulas.toml.bad" in lib.problem
    assert (config / "formulas.toml.bad").read_text(encoding="utf-8") == "this is [not toml"
    d = FormulaDialog(library=lib)
    qtbot.addWidget(d)
    assert "formulas.toml.bad" in d.status_label.text()
    (config / "formulas.toml").write_text('[[formula]]\nname = "ok"\nformula = "x^2 + y"\n'
                                          '[[formula]]\nname = 3\n', encoding="utf-8")
    lib = FormulaLibrary()
    assert lib.names() == ["ok"] and "1 unreadable entry" in lib.problem


def test_cancel_during_a_compile_closes_at_once(qtbot, dialog):
    from app.shell import worker

    F.start_worker()
    _type(qtbot, dialog.formula_edit, "x + y + (9^9^9^9)^0")
    dialog.refresh()
    dialog.accept()
    assert dialog.compiling
    dialog.reject()  # does not wait for the 2 s of symbolic work
    assert not dialog.isVisible() and dialog.result() == QDialog.Rejected and not dialog.compiling
    assert len(worker._ABANDONED) == 1
    qtbot.waitUntil(lambda: not worker._ABANDONED, timeout=60_000)  # finished unseen
    assert dialog.surface is None
