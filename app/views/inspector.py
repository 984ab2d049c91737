"""The step inspector: one racer's next step written out as its update rule with the engine's
numbers filled in (from ``Race.explain_step``), so a class can follow the step by hand."""
from __future__ import annotations

import html

import numpy as np
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTextBrowser

from engine.optimizers import OptimizerSpec

from ..theme import Theme


def _v(a) -> str:
    a = np.atleast_1d(np.asarray(a, dtype=float))
    return "(" + ", ".join(f"{e:+.4g}" for e in a) + ")"


def velocity(explained: dict) -> np.ndarray | None:
    """The direction the optimizer's memory pushes in, as a displacement (for the arrow).

    Momentum methods: -lr * b.  Adam-like methods: -lr * m-hat (bias-corrected first moment).
    """
    after = explained["state_after"]
    lr = explained["lr"]
    if "momentum_buffer" in after and np.any(after["momentum_buffer"] != 0):
        return -lr * np.asarray(after["momentum_buffer"])
    if "exp_avg" in after:
        b1 = explained["hyper"].get("betas", (0.9, 0.999))[0]
        return -lr * np.asarray(after["exp_avg"]) / (1 - b1 ** explained["t"])
    return None


def _extras(explained: dict) -> list[tuple[str, np.ndarray]]:
    """Bias-corrected moments of the Adam family, written out as in the paper's rule."""
    after, h, t = explained["state_after"], explained["hyper"], explained["t"]
    if "exp_avg" in after and "exp_avg_sq" in after and "betas" in h:
        b1, b2 = h["betas"]
        mh = np.asarray(after["exp_avg"]) / (1 - b1 ** t)
        vh = np.asarray(after["exp_avg_sq"]) / (1 - b2 ** t)
        return [("m^ = m / (1 − β1^t)", mh), ("v^ = v / (1 − β2^t)", vh),
                ("per-coordinate scale lr / (√v^ + ε)", explained["lr"] / (np.sqrt(vh) + h.get("eps", 0.0)))]
    if "square_avg" in after and "exp_avg" not in after and "acc_delta" not in after:
        return [("per-coordinate scale lr / (√v + ε)",
                 explained["lr"] / (np.sqrt(np.asarray(after["square_avg"])) + explained["hyper"].get("eps", 0.0)))]
    if "sum" in after:
        return [("per-coordinate scale lr / (√G + ε)",
                 explained["lr"] / (np.sqrt(np.asarray(after["sum"])) + explained["hyper"].get("eps", 0.0)))]
    return []


def to_html(explained: dict, spec: OptimizerSpec, color: str) -> str:
    e = explained
    rows = [("x", e["x"], None), ("g = ∇f(x) (+ noise)", e["gradient"], None)]
    if not np.array_equal(e["gradient"], e["gradient_used"]):
        rows.append(("g after clipping", e["gradient_used"], None))
    for slot, before in e["state_before"].items():
        rows.append((slot, np.asarray(before), np.asarray(e["state_after"][slot])))
    rows += [(name, v, None) for name, v in _extras(e)]
    rows += [("step Δx", e["step"], None), ("x after the step", e["x_new"], None)]
    hyper = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in e["hyper"].items()
                      if k != "lr" and not (isinstance(v, (bool, float)) and not v))
    out = [f"<h3 style='color:{color}'>{html.escape(e['racer'])} — step {e['t']:,}</h3>",
           f"<p><b>{html.escape(spec.name)}</b>: {html.escape(spec.caption)}</p>",
           "<pre>" + html.escape(spec.rule) + "</pre>",
           f"<p>lr<sub>t</sub> = <b>{e['lr']:.4g}</b>" + (f"; {html.escape(hyper)}" if hyper else "") + "</p>",
           "<table cellspacing='2' cellpadding='3'>",
           "<tr><th align='left'></th><th align='left'>value</th><th align='left'>after the step</th></tr>"]
    for name, val, after in rows:
        right = "" if after is None else f"<tt>{_v(after)}</tt>"
        cells = f"<td><tt>{_v(val)}</tt></td><td>{right}</td>" if after is not None else \
            f"<td colspan='2'><tt>{_v(val)}</tt></td>"
        out.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    out.append("</table>")
    out.append(f"<p><small>status: {html.escape(str(e['status']))} · {html.escape(spec.citation)}</small></p>")
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

    def set_explained(self, explained: dict | None, spec: OptimizerSpec | None, color: str = "") -> None:
        if explained is None or spec is None:
            self.show_empty()
            return
        self.setHtml(to_html(explained, spec, color or self.theme.foreground))
