"""The lab's setup: the data, the network and its training, every choice taken from the
engine's registries and field table; each edit goes to the model, which restarts the lab."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHeaderView, QLabel,
                               QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine import data as DATA
from engine import lab as LAB
from engine.nn import activations as ACT
from engine.nn import initializers as INIT
from engine.nn import losses as LOSS
from engine.scenario import field_spec

from ...model import ScenarioModel


def _choices(name: str) -> tuple:
    return field_spec("lab", name).choices


class SetupPanel(QWidget):
    def __init__(self, model: ScenarioModel, parent=None):
        super().__init__(parent)
        self.model = model
        lay = QVBoxLayout(self)
        data_box = QGroupBox("Data")
        f = QFormLayout(data_box)
        f.setRowWrapPolicy(QFormLayout.WrapLongRows)
        self.dataset = QComboBox()
        for i in DATA.DATA_SETS.ids():
            s = DATA.spec(i)
            self.dataset.addItem(s.name, i)
            self.dataset.setItemData(self.dataset.count() - 1, s.caption, Qt.ToolTipRole)
        self.dataset.currentIndexChanged.connect(lambda _: self._set("dataset", self.dataset.currentData()))
        f.addRow("Data set", self.dataset)
        self.noise = self._float("noise", 0.0, 2.0, 0.05, 2)
        f.addRow("Noise", self.noise)
        self.n = self._int("n")
        f.addRow("Examples", self.n)
        self.val_fraction = self._float("val_fraction", step=0.05, decimals=2)
        f.addRow("Validation share", self.val_fraction)
        self.data_seed = self._int("data_seed", hi=10**6)
        f.addRow("Data seed", self.data_seed)
        lay.addWidget(data_box)

        net_box = QGroupBox("Network")
        g = QFormLayout(net_box)
        g.setRowWrapPolicy(QFormLayout.WrapLongRows)
        hidden = field_spec("lab", "hidden")
        self.depth = QSpinBox()
        self.depth.setRange(1, 12)
        self.depth.setToolTip("Hidden layers (1 to 12)")
        self.depth.valueChanged.connect(self._depth_changed)
        g.addRow("Hidden layers", self.depth)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["width", "dropout p"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setToolTip(f"Width of each hidden layer ({hidden.lo:g} to {hidden.hi:g}) and its dropout "
                              "probability (0: none)")
        self.table.itemChanged.connect(self._table_changed)
        self.table.setMinimumHeight(120)
        g.addRow(self.table)
        self.activation = self._combo("activation", [(a, ACT.get(a).name) for a in _choices("activation")])
        g.addRow("Activation", self.activation)
        self.init = self._combo("init", [(i, INIT.get(i).name) for i in _choices("init")])
        g.addRow("Initializer", self.init)
        self.dropout_form = self._combo("dropout_form", [(m, m) for m in _choices("dropout_form")])
        g.addRow("Dropout form", self.dropout_form)
        self.dropconnect = self._float("dropconnect", step=0.05, decimals=2)
        g.addRow("DropConnect p", self.dropconnect)
        self.norm = self._combo("norm", [(m, m) for m in _choices("norm")])
        g.addRow("Normalisation", self.norm)
        self.skip = self._combo("skip", [(m, m) for m in _choices("skip")])
        g.addRow("Skip connections", self.skip)
        self.loss = self._combo("loss", [(m, LOSS.get(m).name if m else "the data set's own") for m in _choices("loss")])
        g.addRow("Loss", self.loss)
        self.l2 = self._float("l2", step=1e-4, decimals=5)
        g.addRow("L2 penalty", self.l2)
        self.batch_size = self._int("batch_size", hi=4096)
        g.addRow("Batch size", self.batch_size)
        self.seed = self._int("seed", hi=10**6)
        g.addRow("Seed", self.seed)
        self.patience = self._int("patience", hi=100_000)
        self.patience.setSpecialValueText("off")
        self.patience.setSuffix(" steps")
        self.patience.setToolTip("Early stopping: a contender stops once its validation loss has not improved "
                                 "for this many steps, keeping its best weights (off: trains on)")
        g.addRow("Early stopping", self.patience)
        lay.addWidget(net_box)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #D55E00")
        lay.addWidget(self.problem)
        lay.addStretch(1)
        model.lab_changed.connect(self.refresh)
        self.refresh()

    # -- widgets built from the field table -------------------------------------------------------
    def _int(self, name: str, hi: int | None = None) -> QSpinBox:
        f = field_spec("lab", name)
        w = QSpinBox()
        w.setRange(int(f.lo or 0), int(hi if hi is not None else f.hi))
        w.setKeyboardTracking(False)
        w.valueChanged.connect(lambda v: self._set(name, int(v)))
        return w

    def _float(self, name: str, lo: float | None = None, hi: float | None = None, step: float = 0.1,
               decimals: int = 3) -> QDoubleSpinBox:
        f = field_spec("lab", name)
        w = QDoubleSpinBox()
        w.setDecimals(decimals)
        w.setRange(f.lo if lo is None else lo, f.hi if hi is None else hi)
        w.setSingleStep(step)
        w.setKeyboardTracking(False)
        w.valueChanged.connect(lambda v: self._set(name, float(v)))
        return w

    def _combo(self, name: str, items) -> QComboBox:
        w = QComboBox()
        for value, text in items:
            w.addItem(text, value)
        w.currentIndexChanged.connect(lambda _: self._set(name, w.currentData()))
        return w

    # -- model -> widgets -------------------------------------------------------------------------
    def refresh(self) -> None:
        lab = self.model.scenario.lab
        spec = DATA.spec(lab.dataset)
        widgets = [self.dataset, self.noise, self.n, self.val_fraction, self.data_seed, self.depth, self.table,
                   self.activation, self.init, self.dropout_form, self.dropconnect, self.norm, self.skip, self.loss,
                   self.l2, self.batch_size, self.seed, self.patience]
        blockers = [QSignalBlocker(w) for w in widgets]
        self.dataset.setCurrentIndex(self.dataset.findData(lab.dataset))
        self.noise.setMaximum(spec.max_noise)
        self.noise.setValue(lab.noise)
        self.n.setValue(lab.n)
        for w in (self.noise, self.n):
            w.setEnabled(not spec.fixed_size)
            w.setToolTip(f"{spec.name} has a fixed size and no noise setting" if spec.fixed_size else "")
        self.val_fraction.setValue(lab.val_fraction)
        self.data_seed.setValue(lab.data_seed)
        self.depth.setValue(len(lab.hidden))
        self.table.setRowCount(len(lab.hidden))
        drop = list(lab.dropout) or [0.0] * len(lab.hidden)
        for i, w in enumerate(lab.hidden):
            self.table.setVerticalHeaderItem(i, QTableWidgetItem(f"L{i + 1}"))
            self.table.setItem(i, 0, QTableWidgetItem(str(w)))
            self.table.setItem(i, 1, QTableWidgetItem(f"{drop[i]:g}"))
        for combo, name in ((self.activation, "activation"), (self.init, "init"), (self.dropout_form, "dropout_form"),
                            (self.norm, "norm"), (self.skip, "skip"), (self.loss, "loss")):
            combo.setCurrentIndex(combo.findData(getattr(lab, name)))
        self._grey_inits()
        self.dropconnect.setValue(lab.dropconnect)
        self.l2.setValue(lab.l2)
        self.batch_size.setValue(lab.batch_size)
        self.seed.setValue(lab.seed)
        self.patience.setValue(lab.patience)
        del blockers

    def _grey_inits(self) -> None:
        """Initializers the network cannot take (identity on a layer that is not square) are
        greyed out, the reason in their tooltip."""
        items: QStandardItemModel = self.init.model()
        lab = self.model.scenario.lab
        for row in range(self.init.count()):
            init = self.init.itemData(row)
            why = LAB.init_problem(lab, init)
            it = items.item(row)
            it.setEnabled(not why or init == lab.init)
            it.setToolTip(why or INIT.get(init).formula)

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)

    # -- widgets -> model -------------------------------------------------------------------------
    def _set(self, name: str, value) -> None:
        try:
            self.model.set_lab(name, value)
        except ValueError as e:
            self.show_problem(str(e))
            self.refresh()

    def _depth_changed(self, n: int) -> None:
        lab = self.model.scenario.lab
        hidden = (list(lab.hidden) + [lab.hidden[-1]] * n)[:n]
        drop = ((list(lab.dropout) or [0.0] * len(lab.hidden)) + [0.0] * n)[:n]
        self.model.set_layers(hidden, drop)

    def _table_changed(self, _item) -> None:
        try:
            hidden = [int(self.table.item(i, 0).text()) for i in range(self.table.rowCount())]
            drop = [float(self.table.item(i, 1).text()) for i in range(self.table.rowCount())]
            self.model.set_layers(hidden, drop)
        except ValueError as e:
            self.show_problem(f"Layers: {e}")
            self.refresh()
