"""The optimizer registry: torch's keyword names and defaults, packing and its errors, Newton's
refusal to train a network, and the texts every spec carries (ids and lookups: test_registry)."""
from __future__ import annotations

import ast
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import optimizers as O
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
    names = [h.name for h in O.spec(opt_id).hyper]
    assert set(names) <= keywords, f"{opt_id}: {sorted(set(names) - keywords)} are not torch.optim.{cls} keywords"


@pytest.mark.parametrize("opt_id", TORCH_IDS)
def test_defaults_are_torchs(opt_id, torch_registry):
    spec = O.spec(opt_id)
    cls = R.TORCH_CLASS[opt_id]
    torch_defaults = torch_registry[cls]["defaults"]
    ours = {k: _plain(v) for k, v in spec.defaults().items()}
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
    """A strategy for valid hyperparameter values of ``spec``."""
    def one(h):
        if h.kind == "bool":
            return st.booleans()
        num = st.floats(h.lo, h.hi, allow_nan=False)
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


@pytest.mark.parametrize("opt_id", IDS)
def test_invalid_values_raise_value_error_naming_the_hyperparameter(opt_id):
    spec = O.spec(opt_id)
    for h in spec.hyper:
        if h.kind == "bool":
            continue
        bad = [h.hi + 1.0, h.lo - 1.0, float("nan"), float("inf")]
        for v in bad:
            with pytest.raises(ValueError, match=rf"{spec.name}.*{h.name}"):
                spec.pack({h.name: (v, h.default[1]) if h.kind == "pair" else v})
            if h.kind == "pair":
                with pytest.raises(ValueError, match=rf"{spec.name}.*{h.name}"):
                    spec.pack({h.name: (h.default[0], v)})
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
