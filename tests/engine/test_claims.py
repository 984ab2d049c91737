"""Claims: each kind holds or fails on a small hand-made run, margins move the verdict, and a
failed claim says what was claimed and what was measured."""
from __future__ import annotations

import numpy as np
import pytest

from engine import claims as C
from engine.race.status import Standing, Status

NAMES = ("A", "B", "C")


def make_run(gap=None, status=((Status.FINISHED, 40), (Status.FINISHED, 80), (Status.RACING, 0)), steps=100) -> C.Run:
    k = np.arange(steps + 1)
    # A halves every 10 steps, B every 20, C every 40: A leads throughout.
    gap = gap if gap is not None else np.array([2.0 ** (-k / 10), 2.0 ** (-k / 20), 2.0 ** (-k / 40)])
    f = gap - 1.0
    return C.Run(NAMES, steps, {"f - f*": gap, "f": f}, tuple(Standing(*s) for s in status))


def claim(**kw):
    C.validate(kw, NAMES, 100)
    return kw


@pytest.mark.parametrize("c,ok", [
    # A at step 50: 2^-5 = 0.03125.  Below 0.1 with the default factor 2 (0.05): holds.
    (dict(kind="value_below", racer="A", series="f - f*", value=0.1, at_step=50), True),
    # Below 0.04 holds without margin, but not with factor 2 (0.02): a near tie does not pass.
    (dict(kind="value_below", racer="A", series="f - f*", value=0.04, at_step=50), False),
    (dict(kind="value_below", racer="A", series="f - f*", value=0.04, at_step=50, margin=1.0), True),
    # by_step takes the lowest value up to then, until_step the highest.
    (dict(kind="value_below", racer="B", series="f - f*", value=0.1, by_step=100), True),
    (dict(kind="value_below", racer="B", series="f - f*", value=0.1, until_step=100), False),
    (dict(kind="value_above", racer="C", series="f - f*", value=0.08, until_step=100), True),
    (dict(kind="value_above", racer="C", series="f - f*", value=0.1, until_step=100), False),
    # from_step starts the window later: B's highest from step 60 on is 2^-3 = 0.125, C's 2^-1.5.
    (dict(kind="value_below", racer="B", series="f - f*", value=0.3, until_step=100, from_step=60), True),
    (dict(kind="value_below", racer="B", series="f - f*", value=0.2, until_step=100, from_step=60), False),
    (dict(kind="value_above", racer="C", series="f - f*", value=0.3, by_step=100, from_step=60, margin=1.1), True),
    (dict(kind="value_above", racer="C", series="f - f*", value=0.3, by_step=100, from_step=60), False),
    # Linear series: the margin is an amount.  A's f at 50 is -0.96875.
    (dict(kind="value_below", racer="A", series="f", value=-0.9, at_step=50, margin=0.05), True),
    (dict(kind="value_below", racer="A", series="f", value=-0.9, at_step=50, margin=0.1), False),
    (dict(kind="ahead", racer="A", other="C", series="f - f*", at_step=40), True),
    (dict(kind="ahead", racer="C", other="A", series="f - f*", at_step=40), False),
    # A/B at step 10: factor 2^(1/2) ~ 1.41 apart: holds at 1.4, not at the default 2.
    (dict(kind="ahead", racer="A", other="B", series="f - f*", at_step=10, margin=1.4), True),
    (dict(kind="ahead", racer="A", other="B", series="f - f*", at_step=10), False),
    (dict(kind="rank", racer="C", series="f - f*", at_step=80, place=-1), True),
    (dict(kind="rank", racer="B", series="f - f*", at_step=80, place=2), True),
    (dict(kind="rank", racer="B", series="f - f*", at_step=80, place=1), False),
    (dict(kind="rank", racer="B", series="f - f*", at_step=80, place=2, margin=5.0), False),
    (dict(kind="finishes_before", racer="A", other="B", margin=40), True),
    (dict(kind="finishes_before", racer="A", other="B", margin=41), False),
    (dict(kind="finishes_before", racer="A", other="B", ratio=2.0), True),
    (dict(kind="finishes_before", racer="A", other="B", ratio=2.1), False),
    (dict(kind="finishes_before", racer="B", other="A"), False),
    # C never finishes: it counts as finishing at step 101, 21 after B.
    (dict(kind="finishes_before", racer="B", other="C", margin=21), True),
    (dict(kind="finishes_before", racer="B", other="C", margin=22), False),
    (dict(kind="finishes_before", racer="C", other="B"), False),
    (dict(kind="reaches", racer="B", status="finished", by_step=90), True),
    (dict(kind="reaches", racer="B", status="finished", by_step=85), False),
    (dict(kind="reaches", racer="A", status="escaped", by_step=100), False),
    (dict(kind="still_racing", racer="C", until_step=90), True),
    (dict(kind="still_racing", racer="C", until_step=91), False),
    (dict(kind="still_racing", racer="B", until_step=60), True),
    (dict(kind="still_racing", racer="B", until_step=75), False),
])
def test_each_kind_holds_or_fails_with_its_margin(c, ok):
    v = C.check(make_run(), claim(**c))
    assert v.ok is ok, (v.claim, v.measured)


def test_a_failed_claim_says_what_was_claimed_and_measured():
    v = C.check(make_run(), claim(kind="finishes_before", racer="B", other="A"))
    assert not v.ok
    assert "B finished at least 10 steps before A" in v.claim
    assert v.measured == "B finished at 80; A finished at 40"
    v = C.check(make_run(), claim(kind="value_below", racer="C", series="f - f*", value=0.01, at_step=100))
    assert "below 0.005" in v.claim and v.measured == C._fmt(2.0 ** -2.5)


@pytest.mark.parametrize("c,message", [
    (dict(kind="wins", racer="A"), "kind must be one of value_below"),
    (dict(kind="reaches", racer="A", status="finished"), "missing field(s) ['by_step']"),
    (dict(kind="reaches", racer="A", status="done", by_step=3), "status must be one of finished"),
    (dict(kind="reaches", racer="Z", status="finished", by_step=3), "racer 'Z' is not a racer; racers: A, B, C"),
    (dict(kind="reaches", racer="A", status="finished", by_step=3, colour=1), "unknown field(s) ['colour']"),
    (dict(kind="value_below", racer="A", series="f - f*", value=1.0), "give exactly one of at_step, by_step"),
    (dict(kind="value_below", racer="A", series="f - f*", value=1.0, at_step=1, by_step=2), "exactly one"),
    (dict(kind="value_below", racer="A", series="loss", value=1.0, at_step=1), "series must be one of f,"),
    (dict(kind="value_below", racer="A", series="f", value=1.0, at_step=1), "linear: give margin as an amount"),
    (dict(kind="value_below", racer="A", series="f - f*", value="1", at_step=1), "value must be float"),
    (dict(kind="value_below", racer="A", series="f - f*", value=1.0, at_step=101), "at_step must be in 0..100"),
    (dict(kind="rank", racer="A", series="f - f*", at_step=1, place=True), "place must be int"),
    (dict(kind="value_below", racer="A", series="f - f*", value=1.0, at_step=9, from_step=2), "give it with by_step"),
    (dict(kind="value_below", racer="A", series="f - f*", value=1.0, by_step=50, from_step=60), "from_step must be in 0..50"),
    (dict(kind="ahead", racer="A", other="B", series="f - f*", at_step=9, from_step=2), "unknown field(s) ['from_step']"),
])
def test_malformed_claims_are_refused_naming_the_field(c, message):
    with pytest.raises(C.ClaimError) as e:
        C.validate(c, NAMES, 100)
    assert message in str(e.value)


def test_a_per_layer_series_is_picked_by_layer():
    # The extension point for the network lab: a series (R, layers, steps+1) read with layer = i.
    per_layer = np.ones((3, 4, 11))
    per_layer[0, 0] = 1e-6
    run = C.Run(NAMES, 10, {"grad_norm": per_layer}, (Standing(Status.RACING, 0),) * 3)
    c = dict(kind="value_below", racer="A", series="grad_norm", value=1e-4, at_step=0)
    with pytest.raises(C.ClaimError, match="per layer: give layer = 1..4"):
        C.check(run, c)
    assert C.check(run, {**c, "layer": 1}).ok and not C.check(run, {**c, "layer": 2}).ok


def test_surface_run_series_from_a_race():
    from engine.race.race import run_race

    res = run_race("quadratic", (1.0, 1.0), ["sgd", "adam"], 50)
    b = res.race.surface
    run = C.surface_run(res.names, res.positions, res.losses, res.grad_norms, res.status, b.minima, b.f_min)
    assert run.names == ("SGD", "Adam") and run.steps == 50
    assert np.allclose(run.series["f - f*"], res.losses - b.f_min)
    assert np.allclose(run.series["distance"], np.linalg.norm(res.positions - b.minima[0], axis=-1))
    assert run.series["step"][:, 0].tolist() == [0.0, 0.0]
    assert np.allclose(run.series["step"][:, 1:], np.linalg.norm(np.diff(res.positions, axis=1), axis=-1))


def test_the_docs_describe_every_kind_and_series():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "lessons.md").read_text()
    for name in [*C.KINDS, *C.SERIES]:
        assert f"`{name}`" in doc, name


# -- the network lab's claims: per-layer series, ratios of layers, statuses of training ---------
def layered_run(status=((Status.TRAINING, 0), (Status.DIVERGED, 7), (Status.STOPPED, 9))) -> C.Run:
    # grad_norm (3 racers, 4 layers, 11 steps): layer i of every racer is 10^(i - 4) at every
    # step, so layer 1 over layer 4 is 1e-3 and layer 4 over layer 1 is 1e3.
    g = np.broadcast_to(10.0 ** (np.arange(4) - 3.0)[None, :, None], (3, 4, 11)).copy()
    return C.Run(NAMES, 10, {"grad_norm": g, "val_acc": np.full((3, 11), 0.9)}, tuple(Standing(*s) for s in status))


def lab_claim(**kw):
    C.validate(kw, NAMES, 10, "lab")
    return kw


@pytest.mark.parametrize("c,ok", [
    # 1e-3 below 1e-2 by the default factor 2 (5e-3): holds; at exactly the margin (10) it holds,
    # a hair beyond it fails.
    (dict(kind="ratio_below", racer="A", series="grad_norm", layer=1, over_layer=4, value=1e-2, at_step=0), True),
    (dict(kind="ratio_below", racer="A", series="grad_norm", layer=1, over_layer=4, value=1e-2, at_step=0,
          margin=10.0), True),
    (dict(kind="ratio_below", racer="A", series="grad_norm", layer=1, over_layer=4, value=1e-2, at_step=0,
          margin=10.01), False),
    (dict(kind="ratio_below", racer="A", series="grad_norm", layer=4, over_layer=1, value=1e-2, at_step=5), False),
    (dict(kind="ratio_above", racer="B", series="grad_norm", layer=4, over_layer=1, value=100.0, at_step=3,
          margin=10.0), True),
    (dict(kind="ratio_above", racer="B", series="grad_norm", layer=4, over_layer=1, value=100.0, at_step=3,
          margin=10.01), False),
    (dict(kind="ratio_above", racer="B", series="grad_norm", layer=1, over_layer=4, value=1e-4, at_step=3), True),
    (dict(kind="value_below", racer="C", series="grad_norm", layer=2, value=0.03, at_step=10, margin=3.0), True),
    (dict(kind="value_below", racer="C", series="grad_norm", layer=2, value=0.03, at_step=10, margin=3.01), False),
    (dict(kind="value_above", racer="A", series="val_acc", value=0.85, at_step=10, margin=0.05), True),
    (dict(kind="value_above", racer="A", series="val_acc", value=0.85, at_step=10, margin=0.06), False),
    # A network still training counts as not stopped; diverged and stopped early are statuses.
    (dict(kind="still_racing", racer="A", until_step=10, margin=0), True),
    (dict(kind="still_racing", racer="B", until_step=6, margin=0), True),
    (dict(kind="still_racing", racer="B", until_step=7, margin=0), False),
    (dict(kind="reaches", racer="B", status="diverged", by_step=8, margin=1), True),
    (dict(kind="reaches", racer="B", status="diverged", by_step=8, margin=2), False),
    (dict(kind="reaches", racer="C", status="stopped early", by_step=10, margin=1), True),
    (dict(kind="reaches", racer="C", status="stopped early", by_step=10, margin=2), False),
    (dict(kind="finishes_before", racer="B", other="C", status="diverged", margin=4), True),
])
def test_lab_kinds_hold_or_fail_at_their_margin(c, ok):
    v = C.check(layered_run(), lab_claim(**c))
    assert v.ok is ok, (v.claim, v.measured)


def test_a_ratio_verdict_names_the_layers_and_both_values():
    v = C.check(layered_run(), lab_claim(kind="ratio_below", racer="A", series="grad_norm", layer=1, over_layer=4,
                                         value=1e-4, at_step=0, margin=5.0))
    assert not v.ok
    assert v.claim == "A's grad_norm of layer 1 over layer 4 below 0.0001 at step 0 (margin: below 2e-05)"
    assert v.measured == "0.001 (0.001 / 1)"
    v = C.check(layered_run(), lab_claim(kind="still_racing", racer="A", until_step=10, margin=0))
    assert v.measured == "A still training at step 10"


@pytest.mark.parametrize("c,mode,message", [
    (dict(kind="value_below", racer="A", series="f - f*", value=1.0, at_step=1), "lab",
     "series 'f - f*' is not recorded in lab mode; it records: grad_norm, train_loss, val_loss, val_acc"),
    (dict(kind="value_below", racer="A", series="val_loss", value=1.0, at_step=1), "surface",
     "series 'val_loss' is not recorded in surface mode"),
    (dict(kind="value_below", racer="A", series="grad_norm", value=1.0, at_step=1), "lab",
     "series 'grad_norm' is per layer in lab mode: give layer"),
    (dict(kind="value_below", racer="A", series="grad_norm", layer=1, value=1.0, at_step=1), "surface",
     "series 'grad_norm' is not per layer in surface mode"),
    (dict(kind="value_below", racer="A", series="grad_norm", layer=0, value=1.0, at_step=1), "lab",
     "layer counts from 1"),
    (dict(kind="ratio_below", racer="A", series="grad_norm", layer=1, value=1.0, at_step=1), "lab",
     "missing field(s) ['over_layer']"),
    (dict(kind="ratio_below", racer="A", series="val_acc", layer=1, over_layer=2, value=1.0, at_step=1), "lab",
     "a ratio needs a log series"),
    (dict(kind="ratio_above", racer="A", series="grad_norm", layer=1, over_layer=2, value=1.0, by_step=1), "lab",
     "unknown field(s) ['by_step']"),
    (dict(kind="reaches", racer="A", status="stopped", by_step=1), "lab", "status must be one of"),
])
def test_lab_claims_are_checked_against_the_mode(c, mode, message):
    with pytest.raises(C.ClaimError) as e:
        C.validate(c, NAMES, 10, mode)
    assert message in str(e.value)


def test_a_layer_the_run_lacks_is_an_error_not_another_layer():
    run = layered_run()
    for layer in (5, 0):
        with pytest.raises(C.ClaimError, match=r"layer must be in 1..4"):
            C.check(run, dict(kind="value_below", racer="A", series="grad_norm", layer=layer, value=1.0, at_step=0))
    with pytest.raises(C.ClaimError, match=r"over_layer must be in 1..4"):
        C.check(run, dict(kind="ratio_below", racer="A", series="grad_norm", layer=1, over_layer=9, value=1.0,
                          at_step=0))
    with pytest.raises(C.ClaimError, match="not per layer in this run"):
        C.check(run, dict(kind="value_below", racer="A", series="val_acc", layer=1, value=1.0, at_step=0, margin=0.1))
