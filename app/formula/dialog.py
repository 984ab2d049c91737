"""The "Custom formula…" editor: type f(x, y), its parameters, domain and start; a contour
preview follows the typing, errors show inline with a caret; OK compiles the formula off the
GUI thread, keeps it in the user's library and hands the surface over."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QPushButton, QTextEdit, QVBoxLayout, QWidget)

from engine.formula import symbolic as F

from .library import FormulaEntry, FormulaLibrary
from ..shell.worker import Worker

DEBOUNCE_MS = 150
PREVIEW_GRID = 96
EXAMPLES = (
    FormulaEntry("Rosenbrock (typed)", "(a - x)^2 + b*(y - x^2)^2", {"a": 1.0, "b": 100.0},
                 ((-2.0, 2.0), (-1.0, 3.0)), (-1.2, 1.0)),
    FormulaEntry("Egg crate on a bowl", "sin(3*x)*cos(3*y) + 0.1*(x^2 + y^2)", {},
                 ((-3.0, 3.0), (-3.0, 3.0)), (2.5, 2.0)),
    FormulaEntry("V-shaped valley", "abs(x - y) + 0.1*(x + y)^2", {}, ((-2.0, 2.0), (-2.0, 2.0)), (1.5, -1.0)),
)


def _compile_task(kwargs: dict):
    """engine.formula.compile for a Worker (the symbolic work and numba run in other
    processes, so the GUI thread stays free)."""
    return lambda job: F.compile(**kwargs, precompile=True)


def compile_in_background(kwargs: dict, callback, parent=None) -> Worker:
    """Compile a formula off the GUI thread; ``callback(surface, error)`` runs on the GUI
    thread when it is done (unless the returned worker is abandoned first)."""
    job = Worker(_compile_task(kwargs), "formula-compile", parent, errors=(F.FormulaError,))
    job.finished.connect(lambda surface: callback(surface, None))
    job.failed.connect(lambda message: callback(None, F.FormulaError(message)))
    return job.start()


def _spin(value: float) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(-1e6, 1e6)
    s.setDecimals(4)
    s.setSingleStep(0.1)
    s.setValue(value)
    s.setKeyboardTracking(True)
    return s


class FormulaDialog(QDialog):
    """Emits ``formulaAccepted(surface)`` with the compiled engine.formula.FormulaSurface on
    OK; ``surface`` and ``entry`` hold it (and its plain-data form) afterwards."""

    formulaAccepted = Signal(object)

    def __init__(self, parent: QWidget | None = None, library: FormulaLibrary | None = None,
                 entry: FormulaEntry | None = None):
        super().__init__(parent)
        self.setWindowTitle("Custom formula")
        self.library = library if library is not None else FormulaLibrary()
        self.surface = None
        self.entry: FormulaEntry | None = None
        self.error: F.FormulaError | None = None
        self._job: Worker | None = None
        mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)

        self.library_box = QComboBox()
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Remove the selected formula from your library")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("a name for your library")
        self.formula_edit = QPlainTextEdit()
        self.formula_edit.setFont(mono)
        self.formula_edit.setPlaceholderText("f(x, y), e.g. (1 - x)^2 + 100*(y - x^2)^2")
        self.formula_edit.setFixedHeight(self.formula_edit.fontMetrics().lineSpacing() * 4)
        self.error_label = QLabel()
        self.error_label.setFont(mono)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_label.setWordWrap(False)
        self.params_edit = QLineEdit()
        self.params_edit.setFont(mono)
        self.params_edit.setPlaceholderText("a = 1, b = 100")
        self.xmin, self.xmax, self.ymin, self.ymax = (_spin(v) for v in (-2.0, 2.0, -2.0, 2.0))
        self.start_x, self.start_y = _spin(-1.4), _spin(1.4)
        self.minimum_edit = QLineEdit()
        self.minimum_edit.setPlaceholderText("found numerically; or type x, y (several: x, y; x, y)")
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.save_box = QCheckBox("Keep in my library")
        self.save_box.setChecked(True)

        self.plot = pg.PlotWidget()
        self.plot.setMinimumSize(280, 240)
        self.plot.setAspectLocked(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.plot.addItem(self.image)
        self.start_marker = pg.ScatterPlotItem(size=10, brush=pg.mkBrush("w"), pen=pg.mkPen("k"))
        self.plot.addItem(self.start_marker)

        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.Ok)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        lib_row = QHBoxLayout()
        lib_row.addWidget(self.library_box, 1)
        lib_row.addWidget(self.delete_button)
        dom_row = QHBoxLayout()
        for lbl, w in (("x from", self.xmin), ("to", self.xmax), ("y from", self.ymin), ("to", self.ymax)):
            dom_row.addWidget(QLabel(lbl))
            dom_row.addWidget(w)
        start_row = QHBoxLayout()
        for lbl, w in (("x", self.start_x), ("y", self.start_y)):
            start_row.addWidget(QLabel(lbl))
            start_row.addWidget(w)
        start_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Library", lib_row)
        form.addRow("Name", self.name_edit)
        form.addRow("f(x, y) =", self.formula_edit)
        form.addRow("", self.error_label)
        form.addRow("Parameters", self.params_edit)
        form.addRow("Domain", dom_row)
        form.addRow("Start", start_row)
        form.addRow("Minimum", self.minimum_edit)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(QLabel("Functions: " + ", ".join(F.FUNCTIONS) + "; constants pi, e; powers ^ or **."))
        left.addWidget(self.status_label)
        left.addStretch(1)
        left.addWidget(self.save_box)
        top = QHBoxLayout()
        top.addLayout(left, 3)
        top.addWidget(self.plot, 2)
        outer = QVBoxLayout(self)
        outer.addLayout(top)
        outer.addWidget(self.buttons)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)
        self.formula_edit.textChanged.connect(self._debounce.start)
        self.params_edit.textChanged.connect(self._debounce.start)
        self.minimum_edit.textChanged.connect(self._debounce.start)
        for s in (self.xmin, self.xmax, self.ymin, self.ymax, self.start_x, self.start_y):
            s.valueChanged.connect(self._debounce.start)
        self.library_box.activated.connect(self._pick)
        self.delete_button.clicked.connect(self._delete)
        self._fill_library()
        self.set_entry(entry or EXAMPLES[0])
        if self.library.problem:
            self.status_label.setText(self.library.problem)

    # -- fields <-> plain data ---------------------------------------------------------------
    def set_entry(self, e: FormulaEntry) -> None:
        self.name_edit.setText(e.name)
        self.formula_edit.setPlainText(e.formula)
        self.params_edit.setText(", ".join(f"{k} = {v:g}" for k, v in e.params.items()))
        (x0, x1), (y0, y1) = e.domain
        for s, v in ((self.xmin, x0), (self.xmax, x1), (self.ymin, y0), (self.ymax, y1)):
            s.setValue(v)
        sx, sy = e.start if e.start is not None else (x0 + 0.15 * (x1 - x0), y0 + 0.85 * (y1 - y0))
        self.start_x.setValue(sx)
        self.start_y.setValue(sy)
        self.minimum_edit.setText("; ".join(f"{a:g}, {b:g}" for a, b in e.minima or ()))
        self.refresh()

    def _fields(self) -> dict:
        """compile()'s arguments from the fields; raises FormulaError for bad parameters."""
        return {"text": self.formula_edit.toPlainText(), "params": F.parse_params(self.params_edit.text()),
                "domain": ((self.xmin.value(), self.xmax.value()), (self.ymin.value(), self.ymax.value())),
                "start": (self.start_x.value(), self.start_y.value()),
                "minima": F.parse_points(self.minimum_edit.text()),
                "name": self.name_edit.text().strip() or None}

    # -- live preview ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Check the fields and redraw the preview (debounced while typing)."""
        self._debounce.stop()
        try:
            kw = self._fields()
            xs, ys, Z = F.preview(kw["text"], kw["params"], kw["domain"], PREVIEW_GRID)
        except F.FormulaError as e:
            self._show_error(e)
            return
        self._show_error(None)
        finite = np.isfinite(Z)
        # Colour by rank (histogram equalised): contours show at every scale, whatever the
        # range of f; NaN (undefined) stays transparent.
        z = np.full(Z.shape, np.nan)
        z[finite] = np.argsort(np.argsort(Z[finite], kind="stable"), kind="stable")
        self.image.setImage(z, levels=(0.0, max(float(finite.sum()) - 1.0, 1.0)))
        (x0, x1), (y0, y1) = kw["domain"]
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        self.start_marker.setData([kw["start"][0]], [kw["start"][1]])
        if not finite.any():
            self._show_error(F.FormulaError("f is not real-valued anywhere on the domain"))

    def _show_error(self, e: F.FormulaError | None) -> None:
        self.error = e
        self.ok_button.setEnabled(e is None and self._job is None)
        sel = []
        if e is None:
            self.error_label.clear()
        else:
            where = "" if e.field == "formula" else f"{e.field}: "
            self.error_label.setText(where + str(e))
            if e.field == "formula" and e.position is not None:
                s = QTextEdit.ExtraSelection()
                fmt = QTextCharFormat()
                fmt.setBackground(QColor(255, 120, 100, 160))
                s.format = fmt
                cur = QTextCursor(self.formula_edit.document())
                n = len(self.formula_edit.toPlainText())
                cur.setPosition(min(e.position, n))
                cur.setPosition(min(e.position + 1, n), QTextCursor.KeepAnchor)
                s.cursor = cur
                sel.append(s)
        self.formula_edit.setExtraSelections(sel)

    @property
    def error_position(self) -> int | None:
        return None if self.error is None else self.error.position

    # -- library ---------------------------------------------------------------------------------
    def _fill_library(self) -> None:
        self.library_box.clear()
        self.library_box.addItem("Choose a formula…", None)
        for e in self.library.entries():
            self.library_box.addItem(e.name, ("library", e.name))
        for i, e in enumerate(EXAMPLES):
            self.library_box.addItem(f"Example: {e.name}", ("example", i))
        self.delete_button.setEnabled(bool(self.library.entries()))

    def _pick(self, index: int) -> None:
        data = self.library_box.itemData(index)
        if data is not None:
            kind, key = data
            self.set_entry(self.library.get(key) if kind == "library" else EXAMPLES[key])

    def _delete(self) -> None:
        data = self.library_box.currentData()
        if data is not None and data[0] == "library":
            self.library.remove(data[1])
            self._fill_library()

    # -- accepting -------------------------------------------------------------------------------
    @property
    def compiling(self) -> bool:
        return self._job is not None

    def accept(self) -> None:
        """Compile in the background; the dialog closes when the formula is ready."""
        if self._job is not None:
            return
        self.refresh()
        if self.error is not None:
            return
        self.ok_button.setEnabled(False)
        self.status_label.setText("Compiling: exact derivatives, then numba kernels (once per formula)…")
        self._job = compile_in_background(self._fields(), self._compiled, self)

    def _compiled(self, s, error) -> None:
        job, self._job = self._job, None
        if job is None:  # cancelled after the result was already on its way
            return
        job.deleteLater()
        if error is not None:
            self.status_label.setText("")
            self._show_error(error)
            return
        self.surface = s
        self.entry = FormulaEntry.from_surface(s)
        if self.save_box.isChecked():
            self.library.add(self.entry)
        gx, gy = s.gradient_text
        self.status_label.setText(f"df/dx = {gx}\ndf/dy = {gy}" + (f"\n{s.notes}" if s.notes else ""))
        self.formulaAccepted.emit(s)
        super().accept()

    def reject(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.abandon()
        super().reject()
