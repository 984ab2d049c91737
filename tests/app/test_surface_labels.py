"""Labels, notes and the theory box on the map never cover each other or a head."""
import numpy as np
import pytest
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QImage

from app.views import label_layout
from engine.scenario import Scenario, classic_six

from .conftest import make_window


def _rect(r: np.ndarray) -> QRectF:
    return QRectF(r[0], r[1], r[2] - r[0], r[3] - r[1])


def test_placement_keeps_labels_apart_even_when_every_head_is_on_one_spot():
    R = 18
    heads = np.full((R, 2), 300.0)
    sizes = np.column_stack([np.linspace(60, 140, R), np.full(R, 24.0)])
    heads_box = np.column_stack([heads - 10, heads + 10])
    corners, far = label_layout.place(heads, sizes, list(range(R)), heads_box, (0, 0, 800, 600), gap=16)
    rects = np.column_stack([corners, corners + sizes])
    for i in range(R):
        assert (rects[i, :2] >= 0).all() and rects[i, 2] <= 800 and rects[i, 3] <= 600
        assert not _rect(rects[i]).intersects(_rect(heads_box[0]))
        for j in range(i):
            assert not _rect(rects[i]).intersects(_rect(rects[j])), (i, j)
    # A crowd is one legend in the given (finishing) order, top to bottom.
    assert far.all() and np.all(np.diff(corners[:, 1]) > 0)


def test_a_lone_head_keeps_its_label_beside_it_without_a_leader():
    heads = np.array([[100.0, 100.0], [500.0, 400.0]])
    sizes = np.array([[80.0, 24.0], [80.0, 24.0]])
    corners, far = label_layout.place(heads, sizes, [0, 1], np.zeros((0, 4)), (0, 0, 800, 600), gap=16)
    assert not far.any()
    assert corners[0, 0] == pytest.approx(116) and corners[0, 1] == pytest.approx(88)  # right of it


def label_rects(view) -> list[QRect]:
    return [view.mapFromScene(lab.sceneBoundingRect()).boundingRect() for lab in view.labels]


def head_rects(view) -> list[QRect]:
    s = int(view.theme.head_size * 0.8)
    out = []
    for r in range(view.frame.n_racers):
        p = view.head_scene_pos(r)
        out.append(QRect(int(p.x()) - s // 2, int(p.y()) - s // 2, s, s))
    return out


def render(view) -> QImage:
    with view.whole_layers():
        return view.grab().toImage().convertToFormat(QImage.Format_RGB32)


@pytest.fixture
def crowded_quadratic(qtbot):
    """The classic six finished together at the quadratic's minimum, theory overlay on,
    light theme, projector mode, in a 1280x720 window."""
    sc = Scenario(surface="quadratic", racers=classic_six("quadratic"))
    sc.view.theme, sc.view.projector, sc.view.show_theory = "light", True, True
    win = make_window(qtbot, sc)
    win.resize(1280, 720)
    win.controller.run_to(300)
    qtbot.waitUntil(lambda: win.mode.surface_view.theory_label.isVisible())
    yield win
    win.close()


def test_crowded_finish_labels_cover_no_label_head_or_note(crowded_quadratic, qtbot):
    view = crowded_quadratic.mode.surface_view
    f = view.frame
    centre = view.head_scene_pos(0)
    assert all(abs(view.head_scene_pos(r).x() - centre.x()) < 30 for r in range(f.n_racers))  # crowded
    img = render(view)
    labels = label_rects(view)
    for i, a in enumerate(labels):
        assert view.rect().contains(a)
        for b in labels[:i]:
            assert not a.intersects(b), (a, b)
        for h in head_rects(view):
            assert not a.intersects(h), (a, h)
        assert not a.intersects(view.theory_label.geometry())
        # The tag is drawn in its racer's colour: nothing lies on top of it.
        c = a.center()
        colours = {img.pixelColor(c.x() + dx, a.top() + 3).name() for dx in range(-a.width() // 2 + 3, a.width() // 2 - 3)}
        assert f.looks[i].color.lower() in colours
    # The crowd is one legend in finishing order, like the leaderboard.
    order = crowded_quadratic.mode.leaderboard.order
    tops = [labels[r].top() for r in order]
    assert tops == sorted(tops)
    # Leader lines join each stacked label to its head.
    assert len(view.leaders.getData()[0]) == 2 * f.n_racers


def test_theory_note_folds_itself_where_no_corner_has_room_for_it_whole(crowded_quadratic):
    view, note = crowded_quadratic.mode.surface_view, crowded_quadratic.mode.surface_view.theory_label
    assert view.rect().contains(note.geometry())
    for h in head_rects(view):
        assert not note.geometry().intersects(h)
    assert not note.folded and len(note.text().splitlines()) == 1 and "κ = 25" in note.text()
    assert "stable for lr" in note.toolTip()  # the whole note on hover


def test_theory_note_takes_a_clear_corner_and_folds_with_a_click(qtbot):
    sc = Scenario(surface="quadratic", racers=classic_six("quadratic"))
    sc.view.show_theory = True
    win = make_window(qtbot, sc)
    win.resize(1920, 1080)
    win.controller.run_to(300)
    view, note = win.mode.surface_view, win.mode.surface_view.theory_label
    qtbot.waitUntil(lambda: note.isVisible() and len(note.text().splitlines()) > 1)
    map_rect = view.mapFromScene(view.vb.sceneBoundingRect()).boundingRect()
    assert map_rect.contains(note.geometry())
    for h in head_rects(view):
        assert not note.geometry().intersects(h)
    render(view)
    for a in label_rects(view):
        assert not a.intersects(note.geometry())
    qtbot.mouseClick(note, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(note.text().splitlines()) == 1)
    assert note.folded and "κ = 25" in note.text()
    qtbot.mouseClick(note, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(note.text().splitlines()) > 1)
    assert not note.folded
    win.close()


def test_labels_keep_clear_of_the_arrow_note(qtbot):
    sc = Scenario(surface="beale", racers=classic_six("beale"))
    sc.view.theme, sc.view.projector, sc.view.selected = "light", True, 5
    win = make_window(qtbot, sc)
    win.resize(1280, 720)
    win.controller.run_to(300)
    view = win.mode.surface_view
    note = view.arrow_texts[0]
    qtbot.waitUntil(lambda: note.isVisible())
    render(view)
    n = view.mapFromScene(note.sceneBoundingRect()).boundingRect()
    labels = label_rects(view)
    for i, a in enumerate(labels):
        assert not a.intersects(n), (a, n)
        for b in labels[:i]:
            assert not a.intersects(b)
    win.close()
