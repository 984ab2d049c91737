"""Every layer, activation and loss: forward and backward against torch autograd in float64
(committed reference values, and live when torch is importable) and finite differences."""
import numpy as np
import pytest

from engine import nn
from engine.nn import Activation, BatchNorm, Dense, Dropout, LayerNorm, activations, fastmath, gradcheck, losses
from tests.reference import make_nn_refs as R

REFS = np.load(R.OUT)
RTOL = 1e-10


def assert_close(actual, expected, what):
    # Relative to the largest reference entry: entries that cancel to ~0 are held to the same
    # absolute standard as the rest of the array.
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(np.max(np.abs(expected)), 1e-300)
    err = np.max(np.abs(np.asarray(actual) - expected)) / scale
    assert err <= RTOL, f"{what}: relative error {err:.2e} > {RTOL}"


def engine_pass(name):
    net, X, y, train = R.make_inputs(name)
    lv, acts, _ = net.inspect(X, y, train, R.STEP)
    return net, lv, acts[-1], net.grad.copy()


def test_reference_file_covers_every_case_and_registry_entry():
    names = {k.split("/")[0] for k in REFS.files}
    assert names == set(R.CASES)
    for a in activations.names():
        assert f"act_{a}" in names
    for loss in losses.names():
        assert any(R.CASES[n][2] == loss for n in names)


@pytest.mark.parametrize("name", list(R.CASES))
def test_matches_committed_torch_reference(name):
    net, lv, out, grad = engine_pass(name)
    assert_close(out, REFS[f"{name}/out"], f"{name} output")
    assert_close(lv, REFS[f"{name}/loss"], f"{name} loss")
    assert_close(grad, REFS[f"{name}/grad"], f"{name} gradient")
    assert np.linalg.norm(grad) > 0
    if net.has_batchnorm:
        assert_close(net.running, REFS[f"{name}/running"], f"{name} running statistics")


@pytest.mark.parametrize("name", list(R.CASES))
def test_matches_torch_live(name):
    pytest.importorskip("torch")
    out, lv, grad, running = R.torch_reference(name)
    net, elv, eout, egrad = engine_pass(name)
    assert_close(eout, out, f"{name} output")
    assert_close(elv, lv, f"{name} loss")
    assert_close(egrad, grad, f"{name} gradient")


@pytest.mark.parametrize("name", list(R.CASES))
def test_matches_finite_differences(name):
    net, X, y, train = R.make_inputs(name)
    X = X / 15.0  # away from ReLU kinks that a finite step could cross
    res = gradcheck.gradcheck(net, X, y, eps=1e-6, train=train, step=R.STEP)
    assert res.index.size == net.n_params
    assert not res.failures(rtol=1e-6, atol=1e-8), res.layers
    assert min(res.layers.values()) < 1e-7
    assert np.linalg.norm(res.analytic) > 0


def test_training_cases_really_drop_units_and_weights():
    for name in ("dropout_inverted_train", "dropconnect_original_train", "mixed_train"):
        net, X, y, train = R.make_inputs(name)
        masks = R.engine_masks(net, X, y, train)
        assert masks, name
        for m in masks.values():
            assert set(np.unique(m)) == {0.0, 1.0}


def test_dropout_p0_equals_no_dropout():
    X = np.random.default_rng(0).normal(size=(16, 3))
    y = np.arange(16) % 2
    plain = nn.build(3, [Dense(8), Activation("relu"), Dense(2)], seed=4)
    for mode in ("inverted", "original"):
        drop = nn.build(3, [Dense(8), Activation("relu"), Dropout(0.0, mode), Dense(2)], seed=4)
        np.testing.assert_array_equal(drop.params, plain.params)
        for train in (False, True):
            l0, g0 = plain.loss_and_grad(X, y, train, step=7)
            l1, g1 = drop.loss_and_grad(X, y, train, step=7)
            assert l1 == l0 and np.array_equal(g1, g0)


def test_dropout_modes_agree_in_expectation():
    # Inverted dropout's test output equals the mean of its training outputs; so does the
    # original form's (which scales by 1 - p at test time).  The mean over 4,000 seeded masks
    # is within 4 standard errors.
    p = 0.3
    X = np.random.default_rng(1).normal(size=(4, 5))
    for mode in ("inverted", "original"):
        net = nn.build(5, [Dense(6), Activation("tanh"), Dropout(p, mode), Dense(3)], loss="mse", seed=2)
        test_out = net.predict(X)
        outs = np.array([net.inspect(X, np.zeros((4, 3)), True, step)[1][-1] for step in range(4000)])
        mean, se = outs.mean(0), outs.std(0) / np.sqrt(len(outs))
        assert np.all(np.abs(mean - test_out) <= 4 * se + 1e-12), mode
        assert np.all(se > 0)  # the masks really vary
    # Same masks (same key): inverted training outputs are the original ones divided by 1 - p.
    inv = nn.build(5, [Dense(6), Activation("tanh"), Dropout(p, "inverted"), Dense(3, bias=False)], loss="mse", seed=2)
    ori = nn.build(5, [Dense(6), Activation("tanh"), Dropout(p, "original"), Dense(3, bias=False)], loss="mse", seed=2)
    a = inv.inspect(X, np.zeros((4, 3)), True, 11)[1][-1]
    b = ori.inspect(X, np.zeros((4, 3)), True, 11)[1][-1]
    np.testing.assert_allclose(a * (1 - p), b, rtol=1e-13, atol=1e-15)


def test_batchnorm_test_mode_uses_running_statistics():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(32, 4))
    net = nn.build(4, [BatchNorm(affine=False)], loss="mse", seed=0)
    y = np.zeros((32, 4))
    # Fresh running stats are mean 0, variance 1: test mode leaves the input unchanged (up to eps).
    np.testing.assert_allclose(net.predict(X), X / np.sqrt(1 + 1e-5), rtol=1e-14)
    for step in range(300):  # momentum 0.1: the running stats converge to the batch's (0.9^300 ~ 2e-14)
        net.loss_and_grad(X, y, train=True, step=step)
    np.testing.assert_allclose(net.running[:4], X.mean(0), rtol=1e-9)
    np.testing.assert_allclose(net.running[4:], X.var(0, ddof=1), rtol=1e-9)
    expected = (X - X.mean(0)) / np.sqrt(X.var(0, ddof=1) + 1e-5)
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-8, atol=1e-12)
    # Training mode normalises with the batch's own (biased) statistics instead.
    train_out = net.inspect(X, y, True, 0)[1][-1]
    np.testing.assert_allclose(train_out, (X - X.mean(0)) / np.sqrt(X.var(0) + 1e-5), rtol=1e-12, atol=1e-12)


def test_layernorm_normalises_each_example():
    X = np.random.default_rng(0).normal(2.0, 3.0, size=(5, 7))
    net = nn.build(7, [LayerNorm(affine=False)], loss="mse")
    out = net.predict(X)
    np.testing.assert_allclose(out.mean(1), 0.0, atol=1e-14)
    np.testing.assert_allclose(out.var(1), 1.0 / (1.0 + 1e-5 / X.var(1)), rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-9, 1e-3, 1.0, 8.0, 40.0, 800.0])
def test_fast_tanh_sigmoid_expm1_match_numpy(scale):
    x = np.random.default_rng(0).normal(size=1001) * scale
    out = np.empty_like(x)
    bits = np.empty(x.size, dtype=np.int64)
    fastmath.tanh(x, out, bits)
    np.testing.assert_allclose(out, np.tanh(x), rtol=2e-15, atol=0)
    fastmath.sigmoid(x, out, bits)
    with np.errstate(over="ignore"):
        ref = 1.0 / (1.0 + np.exp(-x))
    big = ref > 1e-300
    np.testing.assert_allclose(out[big], ref[big], rtol=2e-15, atol=0)
    assert np.all(out[~big] < 1e-300)
    fastmath.expm1_nonpos(x, out, bits)
    np.testing.assert_allclose(out, np.expm1(np.minimum(x, 0.0)), rtol=2e-15, atol=0)


def test_fast_functions_propagate_nan_and_keep_signs():
    x = np.array([np.nan, 0.0, -0.0, np.inf, -np.inf])
    out = np.empty_like(x)
    bits = np.empty(x.size, dtype=np.int64)
    fastmath.tanh(x, out, bits)
    assert np.isnan(out[0]) and out[1] == 0.0 and np.signbit(out[2]) and out[3] == 1.0 and out[4] == -1.0
    fastmath.sigmoid(x, out, bits)
    assert np.isnan(out[0]) and out[1] == 0.5 and out[3] == 1.0 and out[4] == 0.0


def test_prelu_slopes_start_at_a_quarter_and_are_learned():
    net = nn.build(3, [Dense(4), Activation("prelu", per_unit=True), Dense(2)])
    np.testing.assert_array_equal(net.group("act1.slope"), np.full(4, 0.25))
    shared = nn.build(3, [Dense(4), Activation("prelu"), Dense(2)])
    assert shared.group("act1.slope").shape == (1,)
    X = np.random.default_rng(0).normal(size=(20, 3))
    _, g = net.loss_and_grad(X, np.arange(20) % 2)
    grp = [x for x in net.groups if x.name == "act1.slope"][0]
    assert np.any(g[grp.offset: grp.offset + grp.size] != 0)
