"""Iso-lines from the vectorised marching squares lie on their level."""
import numpy as np

from app.views.contours import segments


def test_segments_lie_on_the_level_of_a_smooth_field():
    xs = np.linspace(-2, 2, 81)
    ys = np.linspace(-1, 3, 61)
    z = xs[None, :] ** 2 + 0.5 * ys[:, None] ** 2
    for level in (0.5, 1.7, 3.0):
        seg = segments(xs, ys, z, [level])
        assert len(seg) > 20 and len(seg) % 2 == 0
        f = seg[:, 0] ** 2 + 0.5 * seg[:, 1] ** 2
        assert np.max(np.abs(f - level)) < 0.02  # linear interpolation on a 0.05 grid
        # consecutive pairs are short pieces inside one cell
        d = np.hypot(*(seg[1::2] - seg[0::2]).T)
        assert np.all(d <= np.hypot(0.05, 4 / 60) + 1e-12)


def test_saddle_cells_and_empty_levels():
    xs = ys = np.linspace(-1, 1, 3)
    z = xs[None, :] * ys[:, None]  # a saddle through the centre
    assert len(segments(xs, ys, z, [5.0])) == 0
    seg = segments(xs, ys, z, [0.1])
    f = seg[:, 0] * seg[:, 1]
    assert len(seg) and np.all(np.abs(f - 0.1) < 0.25)
