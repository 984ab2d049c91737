"""The figures the Network lab shows, measured at initialisation with numpy and with the
engine's telemetry (the lab draws the same numbers).  Bounds on both sides come from
measurement over seeds 0..9; the measured ranges are quoted beside them."""
import numpy as np
import pytest

from engine import data, nn
from engine.nn import BatchNorm, Dense, Dropout, ops
from engine.nn.train import NetRace

SEEDS = range(10)


def first_step(net, X, y, B=None):
    """Telemetry of step 1: the gradient at initialisation (a learning rate of 0 moves nothing)."""
    race = NetRace(net, (X, y, X[:2], y[:2]), [("sgd", {"lr": 0.0})], batch_size=B or X.shape[0], tel_every=1,
                   val_every=0, seed=0)
    ch = race.advance(1)
    return ch.taps[0, 0], ch.dense[0, 0], race


# -- 5 tanh layers of 256: standard vs normalised init ------------------------------------------
def tanh_stack(seed, normalised):
    n, B = 256, 256
    rng = np.random.default_rng(100 + seed)
    X, Y = rng.normal(size=(B, n)), rng.normal(size=(B, n))
    layers = [x for _ in range(5) for x in (Dense(n), nn.Activation("tanh"))] + [Dense(n)]
    if normalised:
        net = nn.build(n, layers, loss="mse", init="glorot_uniform", seed=seed)
    else:
        net = nn.build(n, layers, loss="mse", init="uniform", init_scale=1 / np.sqrt(n), seed=seed)
    return net, X, Y


def numpy_tanh(net, X, Y):
    """Backprop by hand: per layer |dL/dh| (h the tanh output) and the weight gradients' std."""
    Ws = net.layer_params()
    hs, h = [], X
    for W, b in Ws[:-1]:
        h = np.tanh(h @ W + b)
        hs.append(h)
    out = h @ Ws[-1][0] + Ws[-1][1]
    d = 2 * (out - Y) / out.size  # torch's MSELoss (mean over every entry)
    gh, gw = [None] * 5, [None] * 5
    d = d @ Ws[-1][0].T
    for i in range(4, -1, -1):
        gh[i] = np.linalg.norm(d)
        dz = d * (1 - hs[i] ** 2)
        gw[i] = ((X if i == 0 else hs[i - 1]).T @ dz).std()
        d = dz @ Ws[i][0].T
    return np.array(gh), np.array(gw)


@pytest.mark.parametrize("seed", SEEDS)
def test_tanh_standard_init_shrinks_gradients_toward_the_input_and_normalised_init_less(seed):
    ratios = {}
    for normalised in (False, True):
        net, X, Y = tanh_stack(seed, normalised)
        gh, gw = numpy_tanh(net, X, Y)
        taps, dense, _ = first_step(net, X, Y)
        tanh_taps = [i for i, t in enumerate(net.taps) if t.name.startswith("tanh")]
        eng = taps[tanh_taps, ops.T_GRAD_NORM]
        np.testing.assert_allclose(eng, gh, rtol=1e-9)  # the engine's telemetry is numpy's number
        rms = dense[:5, ops.W_GRAD_NORM] / 256.0  # 256 x 256 weights: RMS = norm / 256
        np.testing.assert_allclose(rms, np.sqrt(gw ** 2 + 0), rtol=0.05)  # RMS ~ std: the mean is ~0
        ratios[normalised] = eng[0] / eng[4]
        if not normalised:
            per_layer = eng[:-1] / eng[1:]
            # Measured over seeds 0-9: 0.535-0.582 per layer (1/sqrt(3) = 0.577 times tanh's slope).
            assert np.all((per_layer > 0.50) & (per_layer < 0.62)), per_layer
            # Layer 1 / layer 5 measured 0.100-0.104.
            assert 0.085 < ratios[False] < 0.12
        # Weight-gradient std across layers, max / min: measured 1.015-1.051 (standard init;
        # 1.027-1.062 normalised).
        assert gw.max() / gw.min() < 1.1
    # Normalised (Glorot) init: layer 1 / layer 5 measured 0.549-0.571 here (per layer 0.79-0.93),
    # 5.3-5.7 times the standard init's.
    assert 0.48 < ratios[True] < 0.65 and ratios[True] > 4.5 * ratios[False]


# -- 10 ReLU layers of 256: Var(W) = 1/n vs He ---------------------------------------------------
def relu_stds(seed, init):
    n, B = 256, 256
    rng = np.random.default_rng(200 + seed)
    X, Y = rng.normal(size=(B, n)), rng.normal(size=(B, 1))
    layers = [x for _ in range(10) for x in (Dense(n), nn.Activation("relu"))] + [Dense(1)]
    if init == "1/n":
        net = nn.build(n, layers, loss="mse", init="normal", init_scale=1 / np.sqrt(n), seed=seed)
    else:
        net = nn.build(n, layers, loss="mse", init="he_normal", seed=seed)
    h, ref = X, [X.std()]
    for W, b in net.layer_params()[:-1]:
        h = np.maximum(h @ W + b, 0.0)
        ref.append(h.std())
    taps, _, _ = first_step(net, X, Y)
    relu = [i for i, t in enumerate(net.taps) if t.name.startswith("relu")]
    eng = np.concatenate([[X.std()], taps[relu, ops.T_STD]])
    np.testing.assert_allclose(eng, ref, rtol=1e-9)
    return eng[1:] / eng[:-1]


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_activation_std_shrinks_with_var_1_over_n_and_holds_with_he(seed):
    small = relu_stds(seed, "1/n")
    he = relu_stds(seed, "he")
    gm = lambda r: float(np.exp(np.log(r).mean()))  # noqa: E731
    # Geometric mean of the per-layer change (the first against the input), measured over
    # seeds 0-9: Var(W) = 1/n 0.686-0.725 (1/sqrt 2 = 0.707), He 0.970-1.025; single He layers
    # 0.819-1.158.
    assert 0.65 < gm(small) < 0.76
    assert 0.93 < gm(he) < 1.07
    assert np.all((he > 0.75) & (he < 1.25))


# -- 10 sigmoid layers of 32, Glorot: the first layer's gradient vanishes ------------------------
@pytest.mark.parametrize("dataset", ["two_spirals", "digits"])
def test_sigmoid_stack_first_layer_gradient_is_below_1e_4_of_the_last(dataset):
    split = data.load(dataset, seed=0)
    ratios = []
    for seed in SEEDS:
        layers = [x for _ in range(10) for x in (Dense(32), nn.Activation("sigmoid"))] + [Dense(split.n_classes)]
        net = nn.build(split.X_train.shape[1], layers, init="glorot_uniform", seed=seed)
        _, dense, _ = first_step(net, split.X_train[:128], split.y_train[:128])
        net.loss_and_grad(split.X_train[:128], split.y_train[:128])
        g = [np.linalg.norm(net.grad[d.w.offset: d.w.offset + d.w.size]) for d in net.dense]
        np.testing.assert_allclose(dense[:, ops.W_GRAD_NORM], g, rtol=1e-9)
        ratios.append(dense[0, ops.W_GRAD_NORM] / dense[-1, ops.W_GRAD_NORM])
    # Measured over seeds 0-9 (first 128 training rows): spirals 5.7e-8 to 2.7e-6, digits
    # 1.2e-6 to 4.0e-6 (sigmoid's slope is at most 1/4: ten layers, 4^-10 = 1e-6).
    assert all(1e-9 < r < 1e-4 for r in ratios), ratios


# -- dropout over 1,000 masks ----------------------------------------------------------------
@pytest.mark.parametrize("p, form", [(0.5, "inverted"), (0.2, "inverted"), (0.8, "original")])
def test_dropout_drops_p_of_units_and_inverted_keeps_the_mean(p, form):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(32, 4))
    net = nn.build(4, [Dense(64), nn.Activation("sigmoid"), Dropout(p, form), Dense(2)], seed=1)
    dropped, after, before = [], [], []
    for t in range(1, 1001):
        _, acts, _ = net.inspect(X, np.zeros(32, dtype=int), train=True, step=t, seed=9)
        m = net.masks(32)["op2.dropout"]
        np.testing.assert_array_equal(m, net.masks_at(32, 9, t)["op2.dropout"])
        dropped.append(1.0 - m.mean())
        before.append(acts[1].mean())
        after.append(acts[2].mean())
    frac = np.mean(dropped)
    # 2,048,000 units: the dropped fraction's sd is sqrt(p (1 - p) / N), under 0.04% of p here.
    assert abs(frac - p) < 0.005 * p, frac
    if form == "inverted":
        assert abs(np.mean(after) / np.mean(before) - 1.0) < 0.005
    else:  # original: no scaling while training, so the mean falls to (1 - p) of it
        assert abs(np.mean(after) / np.mean(before) - (1 - p)) < 0.005 * (1 - p)


# -- batch norm in training mode ---------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_batch_norm_training_output_has_zero_mean_and_std_sqrt_var_over_var_plus_eps(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(3.0, 2.0, size=(64, 8))
    net = nn.build(8, [Dense(16), BatchNorm(eps=1e-5), nn.Activation("tanh"), Dense(2)], seed=seed)
    _, acts, _ = net.inspect(X, rng.integers(0, 2, 64), train=True, step=1)
    z, y = acts[0], acts[1]  # the dense output and the normalised one (gamma 1, beta 0)
    var = z.var(axis=0)
    assert np.abs(y.mean(axis=0)).max() < 1e-12
    assert np.abs(y.std(axis=0) - np.sqrt(var / (var + 1e-5))).max() < 1e-12
    # Not trivially true: the input features are far from mean 0 and std 1.
    assert np.abs(z.mean(axis=0)).max() > 0.1 and np.abs(np.sqrt(var) - 1).max() > 0.1
