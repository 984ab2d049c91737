"""The optimizer registry: torch's keyword names and defaults, packing and its errors, Newton's
refusal to train a network, and the texts every spec carries (ids and lookups: test_registry)."""
from __future__ import annotations

import ast
import inspect
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.optim import optimizers as O
from tests.reference import make_torch_refs as R

IDS = O.names()
# The optimizers whose spec names a torch.optim counterpart.
TORCH_IDS = [i for i in IDS if O.spec(i).torch]
# Where an id is defined by a non-default torch setting: momentum and nesterov use momentum 0.9
# (torch's SGD default 0 would make them plain SGD), and AMSGrad is Adam(amsgrad=True).
DEFINING = {"momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9, "nesterov": True},
            "amsgrad": {"amsgrad": True}}


@pytest.fixture(scope="module")
def torch_registry() -> dict:
    """Keyword names and defaults per torch class: from torch itself (inspect.signature and the
    constructed optimizer's defaults) when it is importable, else the committed copy."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return json.loads(R.META.read_text())["torch_registry"]
    return R.torch_registry()


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def test_every_torch_counterpart_has_committed_torch_references():
    """A spec that names a torch class is checked against torch below and in
    test_optimizers_reference; one without is checked against its paper (naive_optimizers)."""
    assert sorted(TORCH_IDS) == sorted(R.TORCH_CLASS)


@pytest.mark.parametrize("opt_id", TORCH_IDS)
def test_hyperparameter_names_are_torch_keywords(opt_id, torch_registry):
    cls = R.TORCH_CLASS[opt_id]
    keywords = set(torch_registry[cls]["keywords"])
    names = [h.name for h in O.spec(opt_id).hyper if h.name not in R.ENGINE_ONLY]
    assert set(names) <= keywords, f"{opt_id}: {sorted(set(names) - keywords)} are not torch.optim.{cls} keywords"


@pytest.mark.parametrize("opt_id", TORCH_IDS)
def test_defaults_are_torchs(opt_id, torch_registry):
    spec = O.spec(opt_id)
    cls = R.TORCH_CLASS[opt_id]
    torch_defaults = torch_registry[cls]["defaults"]
    ours = {k: _plain(v) for k, v in spec.defaults().items() if k not in R.ENGINE_ONLY}
    # An engine-only switch defaults to torch's behaviour, and the notes say torch lacks it.
    for k in spec.defaults().keys() & R.ENGINE_ONLY.keys():
        assert spec.defaults()[k] == R.ENGINE_ONLY[k]
        assert "no such switch" in spec.notes
    differ = {k: v for k, v in ours.items() if v != torch_defaults[k]}
    assert differ == DEFINING.get(opt_id, {}), f"{opt_id} differs from torch.optim.{cls}: {differ}"
    # The torch text the GUI shows names the class and the settings that make the difference.
    call = ast.parse(spec.torch, mode="eval").body
    target = call.func if isinstance(call, ast.Call) else call
    assert ast.unparse(target) == f"torch.optim.{cls}"
    shown = {kw.arg: ast.literal_eval(kw.value) for kw in getattr(call, "keywords", [])}
    assert DEFINING.get(opt_id, {}).items() <= shown.items()
    assert all(ours[k] == v for k, v in shown.items())


def _values(spec: O.OptimizerSpec):
    """A strategy for valid hyperparameter values of ``spec``, beyond the sliders' ranges too."""
    def one(h):
        if h.kind == "bool":
            return st.booleans()
        b = h.bounds
        num = st.floats(b.lo, b.hi, exclude_min=b.lo_open, exclude_max=b.hi_open, allow_nan=False,
                        allow_infinity=False)
        return st.tuples(num, num) if h.kind == "pair" else num

    return st.fixed_dictionaries({h.name: one(h) for h in spec.hyper})


@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=st.data(), opt_id=st.sampled_from(IDS))
def test_pack_unpack_round_trip(data, opt_id):
    spec = O.spec(opt_id)
    values = data.draw(_values(spec))
    if opt_id in ("sgd", "momentum", "nesterov") and values["nesterov"]:
        values.update(momentum=max(values["momentum"], 0.1), dampening=0.0)
    packed = spec.pack(values)
    assert packed.dtype == np.float64 and packed.shape == (sum(h.size for h in spec.hyper),)
    assert packed.size <= O.MAX_HYPER
    assert spec.unpack(packed) == values
    assert spec.unpack(spec.pack(None)) == spec.defaults() == spec.unpack(spec.pack({}))


def _just_outside(b) -> list[float]:
    """The nearest invalid numbers at each finite end of the bounds b, and the non-finite ones."""
    out = [float("nan"), float("inf"), float("-inf")]
    if math.isfinite(b.lo):
        out.append(b.lo if b.lo_open else math.nextafter(b.lo, -math.inf))
    if math.isfinite(b.hi):
        out.append(b.hi if b.hi_open else math.nextafter(b.hi, math.inf))
    return out


def _just_inside(b) -> list[float]:
    """The valid numbers nearest each end of the bounds b (a large one for an open-ended range)."""
    lo = b.lo if math.isfinite(b.lo) else -1e6
    hi = b.hi if math.isfinite(b.hi) else 1e6
    return [math.nextafter(lo, math.inf) if b.lo_open else lo, math.nextafter(hi, -math.inf) if b.hi_open else hi]


def _settings(h, values):
    """Each of ``values`` as a setting of h: for a pair, in either element, the other at its default."""
    if h.kind != "pair":
        return list(values)
    return [tuple(v if j == i else d for j, d in enumerate(h.default)) for v in values for i in range(2)]


def _numbers(spec):
    """The hyperparameters that have a range (all but the switches)."""
    return [h for h in spec.hyper if h.kind != "bool"]


@pytest.mark.parametrize("opt_id", IDS)
def test_the_library_takes_every_valid_value_beyond_the_slider(opt_id):
    spec = O.spec(opt_id)
    for h in _numbers(spec):
        scalars = [h.lo, h.hi, *(h.default if h.kind == "pair" else (h.default,))]
        assert all(v in h.bounds for v in scalars)  # the default and the slider's ends are valid
        if opt_id == "nesterov" and h.name in ("momentum", "dampening"):
            continue  # Nesterov's own rule (momentum > 0, no dampening), tested below
        for e in _settings(h, _just_inside(h.bounds)):
            assert spec.unpack(spec.pack({h.name: e}))[h.name] == e
    assert spec.unpack(spec.pack({"lr": 0.0}))["lr"] == 0.0 and spec.unpack(spec.pack({"lr": 1e-8}))["lr"] == 1e-8


def test_a_race_with_a_tiny_or_zero_learning_rate_runs():
    from engine.surfaces import catalog as S
    from engine.race.race import run_race

    r = run_race("beale", (1, 1.5), [("sgd", {"lr": 1e-8}), ("adam", {"lr": 0.0})], 10)
    start = np.array([1.0, 1.5])
    assert np.array_equal(r.positions[0, 1], start - 1e-8 * S.bind("beale").gradient(*start))
    assert np.all(r.positions[1] == start)  # lr = 0 never moves


# Settings torch.optim does not check, where the library keeps the range in which the name
# means what it says.
STRICTER_THAN_TORCH = {"dampening"}


@pytest.mark.parametrize("opt_id", TORCH_IDS)
def test_valid_bounds_are_torchs_argument_checks(opt_id):
    torch = pytest.importorskip("torch", reason="torch is the reference for these bounds; it is not installed")
    spec = O.spec(opt_id)
    cls = getattr(torch.optim, R.TORCH_CLASS[opt_id])
    accepted = set(inspect.signature(cls).parameters)

    def torch_takes(values):
        try:
            cls([torch.zeros(2, requires_grad=True)], **{k: v for k, v in values.items() if k in accepted})
        except ValueError:
            return False
        return True

    def we_take(values):
        try:
            spec.pack(values)
        except ValueError:
            return False
        return True

    for h in _numbers(spec):
        if h.name not in accepted:
            continue
        probes = _just_inside(h.bounds) + [v for v in _just_outside(h.bounds) if math.isfinite(v)]
        for e in _settings(h, probes):
            values = {**spec.defaults(), h.name: e}
            if h.name in STRICTER_THAN_TORCH:
                assert not we_take(values) or torch_takes(values), (h.name, e)
            else:
                assert we_take(values) == torch_takes(values), (h.name, e)


@pytest.mark.parametrize("opt_id", IDS)
def test_invalid_values_raise_value_error_naming_the_hyperparameter(opt_id):
    spec = O.spec(opt_id)
    for h in _numbers(spec):
        for e in _settings(h, _just_outside(h.bounds)):
            with pytest.raises(ValueError, match=rf"{spec.name}.*{h.name}"):
                spec.pack({h.name: e})
        wrong = [(0.1, 0.2, 0.3), 0.5, "ab"] if h.kind == "pair" else ["fast", None, (0.1, 0.2)]
        for v in wrong:
            with pytest.raises(ValueError, match=rf"{spec.name}.*{h.name}"):
                spec.pack({h.name: v})
    with pytest.raises(ValueError, match=r"learning_rate"):
        spec.pack({"learning_rate": 0.1})


def test_nesterov_needs_momentum_and_no_dampening():
    for bad in ({"momentum": 0.0}, {"dampening": 0.5}):
        with pytest.raises(ValueError, match="Nesterov"):
            O.spec("nesterov").pack(bad)
    with pytest.raises(ValueError, match="Nesterov"):
        O.spec("sgd").pack({"nesterov": True})
    assert O.spec("sgd").unpack(O.spec("sgd").pack({"nesterov": True, "momentum": 0.5}))["nesterov"] is True


@pytest.mark.parametrize("n", [1, 3, 10])
def test_newton_refuses_anything_but_a_2d_point(n):
    spec = O.spec("newton")
    assert spec.needs_hessian
    with pytest.raises(ValueError, match=rf"Hessian.*2-D.*network of {n} parameters"):
        spec.init(n)
    with pytest.raises(ValueError, match="Newton needs a 2 x 2 Hessian"):
        O.update("newton", np.ones(n), np.ones(n), np.zeros((1, n)), 1, None, np.eye(2))
    with pytest.raises(ValueError, match="Newton needs a 2 x 2 Hessian"):
        O.update("newton", np.ones(2), np.ones(2), spec.init(2), 1)
    assert not any(O.spec(i).needs_hessian for i in IDS if i != "newton")


@pytest.mark.parametrize("opt_id", IDS)
def test_every_spec_carries_its_texts(opt_id):
    spec = O.spec(opt_id)
    for field in ("name", "caption", "citation", "rule"):
        assert isinstance(getattr(spec, field), str) and getattr(spec, field).strip(), field
    if spec.torch:
        assert spec.notes.strip(), f"{opt_id} has a torch counterpart but no notes on how it differs"


@pytest.mark.parametrize("opt_id", IDS)
def test_state_layout(opt_id):
    spec = O.spec(opt_id)
    state = spec.init(2 if spec.needs_hessian else 5, {"initial_accumulator_value": 0.25}
                      if any(h.name == "initial_accumulator_value" for h in spec.hyper) else None)
    assert state.shape == (max(len(spec.slots), 1), 2 if spec.needs_hessian else 5)
    assert state.shape[0] <= O.MAX_SLOTS
    # Only AdaGrad's sum, Yogi's v (both initial_accumulator_value) and NAdam's product of
    # momentum coefficients (1) start anywhere but zero.
    starts = {"adagrad": {"sum": 0.25}, "yogi": {"exp_avg_sq": 0.25}, "nadam": {"mu_product": 1.0}}.get(opt_id, {})
    for i, slot in enumerate(spec.slots):
        assert np.all(state[i] == starts.get(slot, 0.0)), slot


def test_stability_limits_are_stated_for_the_sgd_family_only():
    lam = 4.0
    assert O.spec("sgd").stability(lam, O.spec("sgd").defaults()) == pytest.approx(2 / lam)
    assert O.spec("momentum").stability(lam, O.spec("momentum").defaults()) == pytest.approx(2 * 1.9 / lam)
    assert O.spec("nesterov").stability(lam, O.spec("nesterov").defaults()) == pytest.approx(2 * 1.9 / (2.8 * lam))
    assert all(O.spec(i).stability is None for i in IDS if i not in ("sgd", "momentum", "nesterov"))
