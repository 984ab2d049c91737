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
        for plot in (window.loss_plot, window.grad_plot):
            qtbot.waitUntil(lambda: plot.frame is not None and plot.frame.step == step)
            lo, hi = plot.plot.getViewBox().viewRange()[0]
            assert lo == pytest.approx(0) and step < hi <= 1.1 * step + 10
    # Scrubbing back in a race computed to 300 keeps the whole race in view.
    c.seek(100)
    qtbot.waitUntil(lambda: window.loss_plot.frame.step == 100)
    assert window.loss_plot.plot.getViewBox().viewRange()[0][1] > 300
