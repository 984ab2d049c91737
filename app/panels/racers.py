"""The racers panel: the list of racers (enable, recolour, add, remove, presets) and an editor
for the selected one built from the specs: its optimizer's (every hyperparameter), the
schedules' and the clipping modes'; and the gradient noise, built from its spec."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QColorDialog, QComboBox, QFormLayout, QGridLayout, QGroupBox, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QMenu, QPushButton, QSizePolicy,
                               QToolButton, QVBoxLayout, QWidget)

from engine.nn import initializers as INIT
from engine.optim import optimizers as O
from engine.race.gradients import CLIPS, NOISE
from engine.race.schedules import SCHEDULES, WARMUP

from .editors import ChoiceEditor, HyperEditor


def swatch(color: str, size: int = 18) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(color))
    return QIcon(pm)


class RacersPanel(QWidget):
    """Edits ``racers``: the surface race's (the model itself, the default) or another list
    offering the same methods and signals (the lab's ``LabContenders``); ``extras`` adds the
    presets and the gradient noise, which only the surface race has."""

    def __init__(self, model, parent=None, extras: bool = True):
        super().__init__(parent)
        self.model = model
        self.editors: dict[str, HyperEditor] = {}
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setMinimumHeight(150)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemChanged.connect(self._item_changed)
        lay.addWidget(self.list, 2)

        buttons = QGridLayout()  # two rows: the panel stays narrow enough for a 1280-px window
        self.add_button = QToolButton()
        self.add_button.setText("Add ▾")
        self.add_button.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.add_button)
        for oid in O.names():
            spec = O.spec(oid)
            act = QAction(spec.name, menu)
            act.setToolTip(f"{spec.caption}\n{spec.citation}")
            act.triggered.connect(lambda _=False, o=oid: self.model.add_racer(o))
            menu.addAction(act)
        menu.setToolTipsVisible(True)
        self.add_button.setMenu(menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove)
        self.classic_button = QPushButton("Classic six")
        self.classic_button.setToolTip("SGD, momentum, Nesterov, AdaGrad, RMSprop and Adam")
        self.classic_button.clicked.connect(lambda: self.model.preset("classic"))
        self.all_button = QPushButton("All")
        self.all_button.setToolTip("Every optimizer in the registry at its default settings")
        self.all_button.clicked.connect(lambda: self.model.preset("all"))
        for i, b in enumerate((self.add_button, self.remove_button, self.classic_button, self.all_button)):
            b.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
            buttons.addWidget(b, i // 2, i % 2)
        lay.addLayout(buttons)
        for b in (self.classic_button, self.all_button):
            b.setVisible(extras)

        self.editor_box = QGroupBox("Selected racer")
        form = QFormLayout(self.editor_box)
        form.setRowWrapPolicy(QFormLayout.WrapLongRows)  # a narrow panel puts the field under its label
        self.optimizer = QComboBox()
        for oid in O.names():
            self.optimizer.addItem(O.spec(oid).name, oid)
        self.optimizer.currentIndexChanged.connect(self._optimizer_changed)
        form.addRow("Optimizer", self.optimizer)
        self.label = QLineEdit()
        self.label.setPlaceholderText("(optimizer name)")
        self.label.editingFinished.connect(lambda: self._with_row(lambda i: self.model.set_label(i, self.label.text())))
        form.addRow("Label", self.label)
        self.color = QPushButton("Colour…")
        self.color.clicked.connect(self._pick_color)
        form.addRow("Colour", self.color)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        form.addRow(self.caption)
        self.hyper_form = QFormLayout()
        self.hyper_form.setRowWrapPolicy(QFormLayout.WrapLongRows)
        form.addRow(self.hyper_form)
        self.schedule = ChoiceEditor("kind", SCHEDULES, (WARMUP,))
        self.schedule.changed.connect(lambda d: self._with_row(lambda i: self.model.set_schedule(i, d)))
        form.addRow("LR schedule", self.schedule)
        self.clip = ChoiceEditor("mode", CLIPS)
        self.clip.changed.connect(lambda d: self._with_row(lambda i: self.model.set_clip(i, d)))
        form.addRow("Clipping", self.clip)
        # A lab contender's own initialisation (the surface race has none: extras is its panel).
        self.init = QComboBox()
        self.init.addItem("(the lab's)", None)
        for iid in INIT.names():
            self.init.addItem(INIT.get(iid).name, iid)
            self.init.setItemData(self.init.count() - 1, INIT.get(iid).formula, Qt.ToolTipRole)
        self.init.currentIndexChanged.connect(
            lambda _i: self._with_row(lambda i: self.model.set_init(i, self.init.currentData())))
        if not extras:
            form.addRow("Initialisation", self.init)
        else:
            self.init.hide()
        lay.addWidget(self.editor_box, 5)

        noise_row = QFormLayout()
        noise_row.setRowWrapPolicy(QFormLayout.WrapLongRows)
        self.noise = HyperEditor(NOISE.params[0])
        self.noise.setToolTip(NOISE.describe())
        self.noise.changed.connect(lambda _n, v: self.model.set_noise(float(v)))
        noise_row.addRow(NOISE.name, self.noise)
        self.extras = extras
        if extras:
            lay.addLayout(noise_row)
        else:
            self.noise.hide()

        model.racers_changed.connect(self.refresh_list)
        model.race_changed.connect(self.refresh_editor)
        model.view_changed.connect(self._view_changed)
        self._built_for = None
        self.refresh_list()

    # -- model -> widgets -----------------------------------------------------------------------
    def refresh_list(self) -> None:
        racers = self.model.racer_configs()
        names = self.model.racer_names()
        with QSignalBlocker(self.list):
            self.list.clear()
            for i, r in enumerate(racers):
                it = QListWidgetItem(swatch(self.model.color_of(i)), names[i])
                it.setFlags(it.flags() | Qt.ItemIsUserCheckable)
                it.setCheckState(Qt.Checked if r.enabled else Qt.Unchecked)
                it.setToolTip(O.spec(r.optimizer).caption)
                self.list.addItem(it)
            sel = min(self.model.selected_racer(), len(racers) - 1)
            self.list.setCurrentRow(sel)
        self.remove_button.setEnabled(bool(racers))
        self._built_for = None
        self.refresh_editor()

    def refresh_editor(self) -> None:
        racers = self.model.racer_configs()
        i = self.list.currentRow()
        self.editor_box.setEnabled(0 <= i < len(racers))
        if self.extras:
            self.noise.set_value(self.model.scenario.noise)
        if not 0 <= i < len(racers):
            return
        r = racers[i]
        spec = O.spec(r.optimizer)
        with QSignalBlocker(self.optimizer):
            self.optimizer.setCurrentIndex(self.optimizer.findData(r.optimizer))
        self.label.setText(r.label)
        self.caption.setText(f"<i>{spec.caption}</i><br><small>{spec.citation}</small>")
        self.editor_box.setTitle(f"Selected racer: {self.model.racer_names()[i]}")
        if self._built_for != (i, r.optimizer):
            self._build_hyper(spec)
            self._built_for = (i, r.optimizer)
        values = {**spec.defaults(), **r.hyper}
        for name, ed in self.editors.items():
            ed.set_value(values[name])
        self.schedule.set_value(r.schedule)
        self.clip.set_value(r.clip)
        if not self.extras:
            with QSignalBlocker(self.init):
                self.init.setCurrentIndex(self.init.findData(r.init) if r.init is not None else 0)

    def _build_hyper(self, spec) -> None:
        while self.hyper_form.rowCount():
            self.hyper_form.removeRow(0)
        self.editors = {}
        for h in spec.hyper:
            ed = HyperEditor(h)
            ed.setToolTip(f"{h.help or h.name}\n{spec.caption}\n{spec.citation}")
            ed.changed.connect(self._hyper_changed)
            self.editors[h.name] = ed
            self.hyper_form.addRow(h.name, ed)

    def _view_changed(self, name: str) -> None:
        if name == "selected":
            sel = self.model.selected_racer()
            if sel != self.list.currentRow() and sel < self.list.count():
                self.list.setCurrentRow(sel)

    def set_lr_marks(self, marks: list[tuple[float, str]]) -> None:
        """Theory marks (stability limit, best lr) on the selected racer's learning-rate slider."""
        if "lr" in self.editors:
            self.editors["lr"].set_marks(marks)

    # -- widgets -> model -----------------------------------------------------------------------
    def _with_row(self, fn) -> None:
        i = self.list.currentRow()
        if 0 <= i < len(self.model.racer_configs()):
            fn(i)

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.model.select_racer(row)
        self.refresh_editor()

    def _item_changed(self, item: QListWidgetItem) -> None:
        i = self.list.row(item)
        self.model.set_enabled(i, item.checkState() == Qt.Checked)

    def _remove(self) -> None:
        self._with_row(self.model.remove_racer)

    def _optimizer_changed(self, _idx: int) -> None:
        self._with_row(lambda i: self.model.set_optimizer(i, self.optimizer.currentData()))

    def _hyper_changed(self, name: str, value) -> None:
        try:
            self._with_row(lambda i: self.model.set_hyper(i, name, value))
        except ValueError as e:
            self.window().statusBar().showMessage(str(e), 6000) if hasattr(self.window(), "statusBar") else None

    def _pick_color(self) -> None:
        i = self.list.currentRow()
        if not 0 <= i < len(self.model.racer_configs()):
            return
        c = QColorDialog.getColor(QColor(self.model.color_of(i)), self, "Racer colour")
        if c.isValid():
            self.model.set_color(i, c.name())
