"""The step inspector writes each optimizer's own terms, from the engine's explanation."""
from __future__ import annotations

import numpy as np
import pytest

from app.views import inspector
from engine.optim import optimizers as O
from engine.race.race import Race


def explained(id, hyper=None, k=20):
    race = Race("rosenbrock", (-1.2, 1.0), [(id, {"lr": 1e-3, **(hyper or {})})])
    race.advance(k)
    return race.explain_step(0, k)


def plain(e):
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(inspector.to_html(e, O.spec(e.optimizer), "#000000"))
    return doc.toPlainText()


@pytest.mark.parametrize("id", O.names())
def test_every_term_of_the_engine_is_on_screen_with_its_value(qapp, id):
    e = explained(id, k=20 if id != "newton" else 2)
    table = inspector.rows(e)
    symbols = [sym for sym, _, _ in table]
    for term in e.terms:
        if term.scalar:
            assert (term.symbol, term.meaning, float(term.value)) in inspector.scalars(e)
        else:
            assert term.symbol in symbols
            assert np.array_equal(table[symbols.index(term.symbol)][2], term.value)
    assert np.array_equal(table[symbols.index("Δx")][2], e.step)
    assert np.array_equal(table[symbols.index("x + Δx")][2], e.x_new)
    text = plain(e)
    assert f"step {e.t:,}" in text and all(f"{v:+.4g}" in text for v in e.step)


@pytest.mark.parametrize("id", ["yogi", "lion"])
def test_rules_without_bias_correction_show_none(qapp, id):
    text = plain(explained(id))
    assert "m̂" not in text and "v̂" not in text and "1 − β1ᵗ" not in text and "1 − β2ᵗ" not in text


def test_lion_shows_the_sign_and_adam_its_bias_corrections(qapp):
    assert "sign(c)" in plain(explained("lion"))
    text = plain(explained("adam"))
    assert "m̂ = m / (1 − β1ᵗ)" in text and "v̂ = v / (1 − β2ᵗ)" in text and "sign" not in text


def test_adam_without_bias_correction_shows_m_and_v_not_their_corrections(qapp):
    e = explained("adam", {"bias_correction": False})
    shown = [sym for sym, _, _ in inspector.rows(e)] + [sym for sym, _, _ in inspector.scalars(e)]
    assert {"m", "v", "√v + ε"} <= set(shown)
    assert not any("m̂" in sym or "v̂" in sym or "1 − β" in sym for sym in shown), shown
    assert "bias_correction = False" in plain(e)
    assert "bias_correction = True" in plain(explained("adam"))


def test_amsgrad_divides_by_the_largest_second_moment(qapp):
    text = plain(explained("amsgrad"))
    assert "v_max = max(v_max, v)" in text and "√v_max / √(1 − β2ᵗ) + ε" in text


def test_centered_rmsprop_shows_its_variance_and_radam_its_branch(qapp):
    assert "v − ḡ²" in plain(explained("rmsprop", {"centered": True}))
    early, late = plain(explained("radam", k=3)), plain(explained("radam", k=30))
    assert "plain momentum step" in early or "not yet tractable" in early
    assert "rectification factor" in late and "rectification factor" not in early
