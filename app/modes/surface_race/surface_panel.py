"""The surface panel: choose the surface, edit its parameters (widgets from its spec), read its
formula and caption, reset the start point, and open the custom-formula dialog."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

from engine.surfaces import catalog as S

from ...model import ScenarioModel
from ...panels.editors import HyperEditor


FORMULA_ITEM = "__formula__"


class SurfacePanel(QWidget):
    def __init__(self, model: ScenarioModel, parent=None):
        super().__init__(parent)
        self.model = model
        lay = QVBoxLayout(self)
        self.combo = QComboBox()
        for sid in S.names():
            spec = S.get(sid)
            self.combo.addItem(spec.name, sid)
            self.combo.setItemData(self.combo.count() - 1, spec.caption, 3)  # Qt.ToolTipRole
        self.combo.currentIndexChanged.connect(self._combo_changed)
        lay.addWidget(self.combo)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        lay.addWidget(self.caption)
        self.formula = QLabel()
        self.formula.setWordWrap(True)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        self.formula.setFont(mono)
        lay.addWidget(self.formula)
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.WrapLongRows)
        lay.addLayout(self.form)
        self.editors: dict[str, HyperEditor] = {}
        self.start_label = QLabel()
        lay.addWidget(self.start_label)
        row = QHBoxLayout()
        self.reset_start = QPushButton("Reset start")
        self.reset_start.setToolTip("Back to the surface's usual start (click the map to pick another)")
        self.reset_start.clicked.connect(self.model.reset_start)
        row.addWidget(self.reset_start)
        self.custom = QPushButton("Custom formula…")
        self.custom.clicked.connect(self._open_formula)
        self.custom.setToolTip("Type your own f(x, y)")
        row.addWidget(self.custom)
        lay.addLayout(row)
        lay.addStretch(1)
        model.surface_changed.connect(self.refresh)
        model.race_changed.connect(self._show_start)
        self._built_for = None
        self.refresh()

    def _combo_changed(self, _i: int) -> None:
        sid = self.combo.currentData()
        if sid != FORMULA_ITEM:
            self.model.set_surface(sid)

    def refresh(self) -> None:
        sc = self.model.scenario
        spec = self.model.surface_spec()
        with QSignalBlocker(self.combo):
            i = self.combo.findData(FORMULA_ITEM)
            if sc.formula:
                if i < 0:
                    self.combo.addItem("", FORMULA_ITEM)
                    i = self.combo.count() - 1
                self.combo.setItemText(i, f"Custom: {spec.name}")
                self.combo.setCurrentIndex(i)
            else:
                if i >= 0:
                    self.combo.removeItem(i)
                self.combo.setCurrentIndex(self.combo.findData(sc.surface))
        self.caption.setText(f"<i>{spec.caption}</i>")
        self.formula.setText(spec.formula)
        if self._built_for != (spec.id, spec.params):
            while self.form.rowCount():
                self.form.removeRow(0)
            self.editors = {}
            for h in spec.params:
                ed = HyperEditor(h)
                ed.changed.connect(self._param_changed)
                self.editors[h.name] = ed
                self.form.addRow(h.help or h.name if len(h.help or h.name) < 14 else h.name, ed)
            self._built_for = (spec.id, spec.params)
        values = {**spec.param_defaults(), **sc.surface_params}
        for name, ed in self.editors.items():
            ed.set_value(values[name])
        self._show_start()

    def _show_start(self) -> None:
        x, y = self.model.scenario.start_point()
        self.start_label.setText(f"Start: ({x:.3g}, {y:.3g}) — click the map to move it")

    def _param_changed(self, name: str, value) -> None:
        try:
            self.model.set_surface_param(name, value)
        except ValueError as e:
            w = self.window()
            if hasattr(w, "statusBar"):
                w.statusBar().showMessage(str(e), 6000)

    def _open_formula(self) -> None:
        from ...formula.dialog import FormulaDialog

        dialog = FormulaDialog(self)
        dialog.formulaAccepted.connect(self.model.set_formula)
        dialog.exec()
