"""Projector polish: curves that follow the race, colour maps with their colour bar, SVG export."""
import pytest

from app.views.curves import horizon
from engine.scenario import Scenario, classic_six

from .conftest import make_window


@pytest.fixture
def window(qtbot):
    win = make_window(qtbot, Scenario(surface="beale", racers=classic_six("beale")))
    yield win
    win.close()


def test_step_axis_follows_the_race_with_a_small_margin(window, qtbot):
    assert horizon(300) == 320 and horizon(60) == 63 and horizon(0) == 10
    c = window.controller
    for step in (60, 300):
        c.run_to(step)
        for plot in (window.mode.loss_plot, window.mode.grad_plot):
            qtbot.waitUntil(lambda: plot.step == step)
            lo, hi = plot.plot.getViewBox().viewRange()[0]
            assert lo == pytest.approx(0) and step < hi <= 1.1 * step + 10
    # Scrubbing back in a race computed to 300 keeps the whole race in view.
    c.seek(100)
    qtbot.waitUntil(lambda: window.mode.loss_plot.step == 100)
    assert window.mode.loss_plot.plot.getViewBox().viewRange()[0][1] > 300


def test_colour_map_is_a_saved_view_setting_with_a_menu_and_a_colour_bar(window, qtbot, tmp_path):
    from PySide6.QtGui import QImage

    from app.views.surface_image import scale_for
    from engine import scenario as io

    view = window.mode.surface_view
    window.mode.colormap_actions["viridis"].trigger()
    assert window.model.scenario.view.colormap == "viridis"
    assert view.colormap == "viridis"
    with view.whole_layers():
        img = view.grab().toImage().convertToFormat(QImage.Format_RGB32)
    # The colour bar's bottom is viridis' dark purple, its top yellow.
    bar = view.mapFromScene(view.colorbar.bar.sceneBoundingRect()).boundingRect()
    low = img.pixelColor(bar.center().x(), bar.bottom() - 3)
    high = img.pixelColor(bar.center().x(), bar.top() + 3)
    assert low.blue() > low.green() > 0 and low.red() < 100  # purple-blue
    assert high.red() > 200 and high.green() > 200 and high.blue() < 100  # yellow
    # Ticks in f - f* (log): decades of Beale's loss.
    labels = [t for _, t in view.colorbar.axis._tickLevels[0]]
    assert labels == [t for _, t in scale_for(window.controller.frame.surface).ticks()] and "10" in labels
    # Saved with the scenario, and loading it sets the menu and the map.
    path = tmp_path / "race.toml"
    io.save(window.model.scenario, path)
    assert 'colormap = "viridis"' in path.read_text()
    sc = io.load(path)
    sc.view.colormap = "cividis"
    window.model.load(sc)
    assert window.mode.colormap_actions["cividis"].isChecked() and view.colormap == "cividis"


def test_iso_lines_are_dark_on_light_shading_and_light_on_dark(window):
    from app.theme import luminance

    view = window.mode.surface_view
    for name in ("slate", "viridis"):
        window.model.set_view("colormap", name)
        pens = [pen.color() for _, pen in view.background.pens]
        assert pens and len(view.background.lines) > 100
        ends = [e for e, _ in view.background.pens]
        assert ends == sorted(ends) and ends[-1] == len(view.background.lines) // 2
    # Viridis runs from dark to light: both inks are in use.
    assert {luminance(c) > 0.5 for c in pens} == {True, False}


def test_scenario_rejects_an_unknown_colour_map():
    from engine.scenario import Scenario, ScenarioError

    sc = Scenario(surface="beale", racers=classic_six("beale"))
    sc.view.colormap = "jet"
    with pytest.raises(ScenarioError, match="view.colormap must be one of 'slate', 'viridis', 'cividis', got 'jet'"):
        sc.validate()


def test_export_image_writes_the_map_as_svg(window, tmp_path):
    import xml.etree.ElementTree as ET

    window.controller.run_to(100)
    out = tmp_path / "map.svg"
    assert window.write_image(str(out))
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for name in ("Adam", "SGD", "RMSprop"):  # racer labels as text, not pixels
        assert name in text
    assert any(e.tag.endswith("image") for e in root.iter())  # the shading and trails
    assert window.write_image(str(tmp_path / "map.png"))
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
