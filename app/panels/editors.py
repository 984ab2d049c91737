"""Widgets built from specs: a ``Hyper`` gets a (log-)slider over the suggested range and a
number box that takes any valid value (a bool a check box, a pair two number boxes), a table
of ``ChoiceSpec`` a combo box over its choices' editors.  Values go out through ``changed``."""
from __future__ import annotations

import math
import sys
from typing import Iterable, Mapping

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QValidator
from PySide6.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QSlider, QStyle, QStyleOptionSlider, QWidget)

from engine.optim.specs import Bounds, ChoiceSpec, Hyper

STEPS = 1000  # slider resolution
# QDoubleSpinBox rounds every value to this many decimals: the most it allows, so that a
# learning rate of 1e-20 stays 1e-20 rather than becoming 0.
DECIMALS = 323


def _box_limit(end: float, is_open: bool, inwards: float) -> float:
    """The largest (or smallest) number a box can hold at one end of the bounds."""
    if math.isinf(end):
        return math.copysign(sys.float_info.max, end)
    return math.nextafter(end, inwards) if is_open else end


class SciSpinBox(QDoubleSpinBox):
    """A number box that shows 3e-05 rather than 0.000030 and accepts exactly the values in
    ``bounds`` (typing another leaves the last valid one)."""

    def __init__(self, bounds: Bounds, parent=None):
        super().__init__(parent)
        self.bounds = bounds
        self.setDecimals(DECIMALS)
        self.setRange(_box_limit(bounds.lo, bounds.lo_open, math.inf), _box_limit(bounds.hi, bounds.hi_open, -math.inf))
        self.setKeyboardTracking(False)
        self.setStepType(QAbstractSpinBox.AdaptiveDecimalStepType)
        self.setMinimumWidth(90)

    def textFromValue(self, v: float) -> str:
        return f"{v:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        try:
            v = float(text)
        except ValueError:
            return QValidator.Intermediate, text, pos
        return (QValidator.Acceptable if v in self.bounds else QValidator.Intermediate), text, pos


class MarkedSlider(QSlider):
    """A horizontal slider with coloured tick marks (e.g. stability limits, the best lr)."""

    def __init__(self, parent=None):
        super().__init__(Qt.Horizontal, parent)
        self.marks: list[tuple[int, str]] = []

    def set_marks(self, marks: list[tuple[int, str]]) -> None:
        self.marks = marks
        self.update()

    def paintEvent(self, ev) -> None:
        super().paintEvent(ev)
        if not self.marks:
            return
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        groove = self.style().subControlRect(QStyle.CC_Slider, opt, QStyle.SC_SliderGroove, self)
        p = QPainter(self)
        for pos, color in self.marks:
            x = groove.left() + (groove.width() - 1) * (pos - self.minimum()) / max(self.maximum() - self.minimum(), 1)
            p.setPen(QPen(QColor(color), 3))
            p.drawLine(int(x), 0, int(x), self.height())
        p.end()


class HyperEditor(QWidget):
    changed = Signal(str, object)

    def __init__(self, hyper: Hyper, parent=None):
        super().__init__(parent)
        self.hyper = hyper
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        h = hyper
        self.slider = None
        if h.kind == "bool":
            self.box = QCheckBox()
            self.box.toggled.connect(lambda v: self.changed.emit(h.name, bool(v)))
            lay.addWidget(self.box)
            lay.addStretch(1)
        elif h.kind == "pair":
            self.boxes = [SciSpinBox(h.bounds), SciSpinBox(h.bounds)]
            for b in self.boxes:
                b.setToolTip(f"any value in {h.bounds}")
                b.valueChanged.connect(self._pair_changed)
                lay.addWidget(b)
        else:
            self.slider = MarkedSlider()
            self.slider.setRange(0, STEPS)
            self.slider.setMinimumWidth(100)  # a narrow panel wraps the row rather than lose the slider
            self.box = SciSpinBox(h.bounds)
            self.box.setToolTip(f"any value in {h.bounds}; the slider covers {h.lo:g} to {h.hi:g}")
            self.slider.valueChanged.connect(self._slider_moved)
            self.box.valueChanged.connect(self._box_changed)
            lay.addWidget(self.slider, 3)
            lay.addWidget(self.box, 1)
        self.setToolTip(h.help or h.name)

    # Slider position <-> value: logarithmic when the spec says so (learning rates).  A value
    # outside the slider's range pins it at that end.
    def to_pos(self, v: float) -> int:
        h = self.hyper
        lo = max(h.lo, h.hi * 1e-12) if h.log else h.lo
        v = min(max(v, lo), h.hi)
        if h.log:
            return round(STEPS * (math.log(v) - math.log(lo)) / (math.log(h.hi) - math.log(lo)))
        return round(STEPS * (v - h.lo) / (h.hi - h.lo)) if h.hi > h.lo else 0

    def to_value(self, pos: int) -> float:
        h = self.hyper
        if h.log:
            lo = max(h.lo, h.hi * 1e-12)
            v = math.exp(math.log(lo) + (math.log(h.hi) - math.log(lo)) * pos / STEPS)
            return float(f"{v:.3g}")
        return float(f"{h.lo + (h.hi - h.lo) * pos / STEPS:.4g}")

    def _slider_moved(self, pos: int) -> None:
        v = self.to_value(pos)
        with QSignalBlocker(self.box):
            self.box.setValue(v)
        self.changed.emit(self.hyper.name, v)

    def _box_changed(self, v: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(self.to_pos(v))
        self.changed.emit(self.hyper.name, float(v))

    def _pair_changed(self, *_):
        self.changed.emit(self.hyper.name, (self.boxes[0].value(), self.boxes[1].value()))

    def set_value(self, v) -> None:
        """Show v without emitting ``changed`` (model -> widget)."""
        h = self.hyper
        if h.kind == "bool":
            with QSignalBlocker(self.box):
                self.box.setChecked(bool(v))
        elif h.kind == "pair":
            for b, e in zip(self.boxes, v):
                with QSignalBlocker(b):
                    b.setValue(float(e))
        else:
            with QSignalBlocker(self.box), QSignalBlocker(self.slider):
                self.box.setValue(float(v))
                self.slider.setValue(self.to_pos(float(v)))

    def value(self):
        h = self.hyper
        if h.kind == "bool":
            return self.box.isChecked()
        if h.kind == "pair":
            return (self.boxes[0].value(), self.boxes[1].value())
        return self.box.value()

    def set_marks(self, marks: list[tuple[float, str]]) -> None:
        if self.slider is not None:
            self.slider.set_marks([(self.to_pos(v), c) for v, c in marks])


class ChoiceEditor(QWidget):
    """A setting with alternatives (a schedule kind, a clipping mode) built from its
    ``ChoiceSpec`` table: a combo box of the choices, the chosen one's parameters beneath it,
    then the parameters of ``common`` specs that apply whatever the choice (a warm-up).
    Values go out through ``changed(dict)``: ``{key: id, name: value, ...}``, or ``{}`` for the
    first choice with the common parameters at their defaults."""

    changed = Signal(dict)

    def __init__(self, key: str, choices: Iterable[ChoiceSpec], common: tuple[ChoiceSpec, ...] = (),
                 parent=None):
        super().__init__(parent)
        self.key = key
        self.choices = {c.id: c for c in choices}
        lay = QFormLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setRowWrapPolicy(QFormLayout.WrapLongRows)
        self.combo = QComboBox()
        for i, spec in enumerate(self.choices.values()):
            self.combo.addItem(spec.name, spec.id)
            self.combo.setItemData(i, spec.describe(), Qt.ToolTipRole)
        self.combo.currentIndexChanged.connect(self._choice_changed)
        lay.addRow(self.combo)
        self.params = QFormLayout()
        self.params.setRowWrapPolicy(QFormLayout.WrapLongRows)
        lay.addRow(self.params)
        self.editors: dict[str, HyperEditor] = {}
        self.common: dict[str, HyperEditor] = {}
        for spec in common:
            for h in spec.params:
                self.common[h.name] = self._editor(h, spec)
                self.common[h.name].set_value(h.default)
                lay.addRow(f"  {h.name}", self.common[h.name])
        self._built = None
        self._build(self.combo.currentData())

    def _editor(self, h: Hyper, spec: ChoiceSpec) -> HyperEditor:
        ed = HyperEditor(h)
        ed.setToolTip(f"{h.help}\n\n{spec.describe()}")
        ed.changed.connect(lambda *_: self.changed.emit(self.value()))
        return ed

    def _build(self, id: str) -> None:
        """Editors for the parameters of choice ``id`` (kept while the choice stays)."""
        if id == self._built:
            return
        while self.params.rowCount():
            self.params.removeRow(0)
        spec = self.choices[id]
        self.editors = {h.name: self._editor(h, spec) for h in spec.params}
        for name, ed in self.editors.items():
            ed.set_value(ed.hyper.default)  # a new choice starts from its own defaults
            self.params.addRow(f"  {name}", ed)
        self._built = id

    def _choice_changed(self, _index: int) -> None:
        self._build(self.combo.currentData())
        self.changed.emit(self.value())

    def set_value(self, value: Mapping[str, object]) -> None:
        """Show ``value`` (missing parameters at their defaults) without emitting ``changed``."""
        id = value.get(self.key, next(iter(self.choices)))
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(self.combo.findData(id))
        self._build(id)
        for name, ed in {**self.editors, **self.common}.items():
            ed.set_value(value.get(name, ed.hyper.default))

    def value(self) -> dict:
        id = self.combo.currentData()
        common = {n: ed.value() for n, ed in self.common.items() if ed.value() != ed.hyper.default}
        if id == next(iter(self.choices)) and not common:
            return {}
        return {self.key: id, **{n: ed.value() for n, ed in self.editors.items()}, **common}
