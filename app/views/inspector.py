"""The step inspector: one racer's next step written out as its update rule with the engine's
numbers filled in (from ``Race.explain_step``), so a class can follow the step by hand."""
from __future__ import annotations

import html

import numpy as np
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTextBrowser

from engine.optim.optimizers import Explanation, OptimizerSpec

from ..theme import Theme


def _cells(a) -> list[str]:
    """A 2-D vector as its two coordinates; a longer one (Newton's H) joined in one cell."""
    a = np.atleast_1d(np.asarray(a, dtype=float))
    parts = [f"{e:+.4g}" for e in a]
    return parts if len(parts) <= 2 else [", ".join(parts)]


def rows(e: Explanation) -> list[tuple[str, str, np.ndarray]]:
    """The table: (symbol, meaning, value per coordinate), in the order the step computes them."""
    out = [("x", "where the racer stands", e.x)]
    seen = e.gradient if e.gradient_seen is None else e.gradient_seen
    out.append(("g = ∇f(x)", "the gradient it sees (noise included)", seen))
    if not np.array_equal(seen, e.gradient):
        out.append(("g (clipped)", "the gradient after clipping: what the optimizer reads", e.gradient))
    out += [(t.symbol, t.meaning, t.value) for t in e.terms if not t.scalar]
    if e.memory is not None:
        out.append(("memory", "where the optimizer's memory pushes: −lr × its momentum term", e.memory))
    out += [("Δx", "the step taken", e.step), ("x + Δx", "where the racer lands", e.x_new)]
    return out


def scalars(e: Explanation) -> list[tuple[str, str, float]]:
    """Quantities shared by every coordinate (bias corrections, ρₜ, Newton's determinant)."""
    return [(t.symbol, t.meaning, float(t.value)) for t in e.terms if t.scalar]


def to_html(e: Explanation, spec: OptimizerSpec, color: str) -> str:
    # Zeros and switches that are off are left out, unless the switch is on by default
    # (Adam's bias_correction): then off is what the class must see.
    on_by_default = {h.name for h in spec.hyper if h.default is True}
    hyper = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in e.hyper.items()
                      if k != "lr" and not (isinstance(v, (bool, float)) and not v and k not in on_by_default))
    out = [f"<h3 style='color:{color}'>{html.escape(e.racer or spec.name)} — step {e.t:,}</h3>",
           f"<p><b>{html.escape(spec.name)}</b>: {html.escape(spec.caption)}</p>",
           "<pre style='white-space: pre-wrap'>" + html.escape(spec.rule) + "</pre>",
           f"<p>lr<sub>t</sub> = <b>{e.lr:.4g}</b>" + (f"; {html.escape(hyper)}" if hyper else "") + "</p>"]
    shared = scalars(e)
    if shared:
        out.append("<p>" + "<br>".join(f"<tt>{html.escape(sym)}</tt> = <b>{v:.6g}</b> <small>({html.escape(m)})</small>"
                                       for sym, m, v in shared) + "</p>")
    # One column per coordinate.  Symbols in the fixed-width font, as in the rule above: the
    # proportional one draws a combining hat (m̂, v̂) beside its letter.
    out.append("<table cellspacing='2' cellpadding='3'>")
    for sym, meaning, val in rows(e):
        cells = "".join(f"<td nowrap align='right'><tt>{c}</tt></td>" for c in _cells(val))
        out.append(f"<tr title='{html.escape(meaning)}'><td nowrap><tt>{html.escape(sym)}</tt></td>{cells}</tr>")
    out.append("</table>")
    status = f"status: {html.escape(str(e.status))} · " if e.status is not None else ""
    out.append(f"<p><small>{status}{html.escape(spec.citation)}</small></p>")
    if spec.notes:
        out.append(f"<p><small>{html.escape(spec.notes)}</small></p>")
    return "\n".join(out)


class StepInspector(QTextBrowser):
    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.set_theme(theme)
        self.show_empty()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        f = QFont()
        f.setPointSize(theme.font_pt)
        self.setFont(f)

    def show_empty(self) -> None:
        self.setHtml("<p>Select a racer (click its row in the leaderboard) to see its next step "
                     "written out with numbers.</p>")

    def set_explained(self, explained: Explanation | None, spec: OptimizerSpec | None, color: str = "") -> None:
        if explained is None or spec is None:
            self.show_empty()
            return
        self.setHtml(to_html(explained, spec, color or self.theme.foreground))
