"""Hyperparameter editors built from the specs: the slider covers the suggested range, the
number box takes any valid value (the slider then pins at its end) and refuses invalid ones."""
from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from app.panels.editors import STEPS, HyperEditor
from engine.optim import optimizers as O


def _floats():
    for oid in O.names():
        for h in O.spec(oid).hyper:
            if h.kind == "float":
                yield pytest.param(h, id=f"{oid}.{h.name}")


def _type(qtbot, box, text: str) -> None:
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)
    qtbot.keyClick(box.lineEdit(), Qt.Key_Return)


def _outside_slider(h):
    """Valid values beyond each end of the slider's range, where the bounds leave room."""
    b = h.bounds
    above = h.hi * 10 if b.hi == math.inf else (h.hi + b.hi) / 2
    below = h.lo / 10 if h.lo > 0 else None
    return [(v, STEPS if v > h.hi else 0) for v in (above, below) if v is not None and v in b and not h.lo <= v <= h.hi]


@pytest.mark.parametrize("h", list(_floats()))
def test_the_box_takes_valid_values_beyond_the_slider_and_refuses_invalid_ones(qtbot, h):
    ed = HyperEditor(h)
    qtbot.addWidget(ed)
    seen = []
    ed.changed.connect(lambda name, v: seen.append((name, v)))
    assert ed.to_value(0) == pytest.approx(max(h.lo, h.hi * 1e-12) if h.log else h.lo, rel=1e-2)
    assert ed.to_value(STEPS) == pytest.approx(h.hi, rel=1e-2)
    for v, pinned in _outside_slider(h):
        _type(qtbot, ed.box, repr(v))
        assert seen[-1] == (h.name, v) and ed.slider.value() == pinned
    ed.set_value(h.default)
    seen.clear()
    b = h.bounds
    invalid = [e for e in (b.lo - 1.0, b.hi + 1.0, b.hi if b.hi_open else math.inf) if math.isfinite(e)]
    for v in invalid:
        _type(qtbot, ed.box, repr(v))
        assert seen == [] and ed.box.value() == pytest.approx(h.default), v


def test_betas_boxes_refuse_one(qtbot):
    h = next(h for h in O.spec("adam").hyper if h.name == "betas")
    ed = HyperEditor(h)
    qtbot.addWidget(ed)
    ed.set_value(h.default)
    seen = []
    ed.changed.connect(lambda name, v: seen.append(v))
    _type(qtbot, ed.boxes[1], "1")
    assert seen == [] and ed.value() == h.default
    _type(qtbot, ed.boxes[1], "0.99999999")
    assert seen == [(0.9, 0.99999999)]


def test_a_tiny_learning_rate_typed_in_the_window_races(window, qtbot):
    window.mode.racers_panel.list.setCurrentRow(0)  # SGD
    ed = window.mode.racers_panel.editors["lr"]
    _type(qtbot, ed.box, "1e-08")
    assert window.model.scenario.racers[0].hyper["lr"] == 1e-8 and ed.slider.value() == 0
    assert window.mode.session.race.hyper[0, 0] == 1e-8
    window.controller.run_to(20)
    assert window.controller.k == 20
