"""The map's surface is sampled in a worker: a zoom keeps the window free, stale results are
dropped, and a grab for a file still gets the samples of what it shows."""
import pytest

from engine.scenario import Scenario, classic_six

from .conftest import make_window


@pytest.fixture
def window(qtbot):
    win = make_window(qtbot, Scenario(surface="beale", racers=classic_six("beale")))
    yield win
    win.close()


def _covers_view(view) -> bool:
    s = view._sampled
    (x0, x1), (y0, y1) = view.vb.viewRange()
    return s is not None and s.xr[0] <= x0 and s.xr[1] >= x1 and s.yr[0] <= y0 and s.yr[1] >= y1 \
        and (s.xr[1] - s.xr[0]) < 1.2 * (x1 - x0)


def test_a_zoom_is_sampled_in_a_worker_and_only_the_last_request_is_shown(window, qtbot):
    view = window.mode.surface_view
    qtbot.waitUntil(lambda: view._job is None and _covers_view(view))
    old = view._sampled
    view.vb.scaleBy((0.5, 0.5))
    view._resample_timer.stop()
    view._resample()  # what the timer would do once the zoom settles
    assert view._job is not None and view._sampled is old  # the worker runs; the old image stays
    view.vb.scaleBy((0.5, 0.5))
    view._resample_timer.stop()
    view._resample()  # a newer request while the first runs: the first's result is dropped
    shown = []
    orig = view._show_sampled
    view._show_sampled = lambda s: (shown.append(s), orig(s))
    qtbot.waitUntil(lambda: view._job is None and view._wanted is None)
    assert len(shown) == 1 and _covers_view(view)


def test_a_grab_for_a_file_does_not_wait_for_the_worker(window, qtbot):
    view = window.mode.surface_view
    window.model.set_surface("himmelblau")
    assert view._wanted is not None and view._sampled is None  # blank until sampled, never the old surface
    with view.whole_layers():
        assert view._wanted is None and _covers_view(view) and view.scale is not None
    qtbot.waitUntil(lambda: view._job is None)  # the worker's result, no longer wanted, is dropped
    assert _covers_view(view)
