"""The shared views take plain data: a leaderboard with another mode's columns, a curve plot
with plain series (the network lab feeds them so)."""
import numpy as np
import pytest

from app import theme as themes
from app.views.curves import CurvePlot, symlog
from app.views.leaderboard import Column, Leaderboard
from app.views.look import Look
from engine.race.status import Status

LOOKS = (Look("SGD", "#E69F00", "o"), Look("Adam", "#D55E00", "s"), Look("Lion", "#009E73", "t"))


def test_a_leaderboard_ranks_by_its_sort_column_and_formats_by_its_spec(qtbot):
    accuracy = Column("accuracy", lambda v: f"{v:.0%}", "100%", sort=lambda v: -v)  # higher is better
    loss = Column("loss", essential=False)
    board = Leaderboard(themes.get("dark"), (accuracy, loss))
    qtbot.addWidget(board)
    board.show()
    status = np.array([Status.RACING, Status.RACING, Status.DIVERGED])
    board.set_rows(LOOKS, [(0.81, 0.5), (0.93, 0.2), (np.nan, np.inf)], status, np.array([0, 0, 7]))
    assert [board.horizontalHeaderItem(c).text() for c in range(5)] == ["#", "Racer", "accuracy", "loss", "status"]
    assert board.order == [1, 0, 2]
    assert [board.item(r, 2).text() for r in range(3)] == ["93%", "81%", "—"]
    assert board.item(2, 4).text() == Status.DIVERGED.short
    # The optional column goes first on a narrow board; the status stays.
    board.resize(sum(board.columnWidth(c) for c in range(3)) + board._status_width + 30, board.height())
    assert board.isColumnHidden(3) and not board.isColumnHidden(4)
    # A new spec changes the columns; a theme change shows the same rows again.
    board.set_columns((accuracy,))
    board.set_rows(LOOKS[:2], [(0.5,), (0.4,)], status[:2], np.zeros(2))
    board.set_theme(themes.get("light"))
    assert board.columnCount() == 4 and board.item(0, 1).text() == "SGD" and board.item(0, 2).text() == "50%"


@pytest.mark.parametrize("scale", ["log", "symlog", "linear"])
def test_a_curve_plot_draws_plain_series_on_its_scale(qtbot, scale):
    plot = CurvePlot(themes.get("dark"))
    qtbot.addWidget(plot)
    plot.set_axis("gradient norm", "per layer", scale)
    plot.set_looks(LOOKS)
    steps = np.arange(5)
    values = np.array([[1.0, 0.5, 0.1, 0.0, np.nan], [2.0, 3.0, -4.0, 5.0, 6.0], [1, 1, 1, 1, 1]])
    plot.set_series(steps, values)
    plot.set_cursor(4, 4)
    assert len(plot.curves) == 3 and plot.step == 4
    assert plot.curves[0].opts["pen"].color().name() == "#e69f00"
    y = plot.curves[1].getData()[1]
    want = {"log": np.maximum(values[1], 1e-16), "symlog": symlog(values[1]), "linear": values[1]}[scale]
    if scale == "log":  # pyqtgraph holds the data as given; it draws the log
        y = plot.curves[1].yData
    assert np.allclose(y, want)
    assert np.isnan(plot.curves[0].yData[-1])
    plot.set_looks(LOOKS[:1])
    assert len(plot.curves) == 1
