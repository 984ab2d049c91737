"""The Network lab's settings ([lab] in a scenario) and their build into data, network and race."""
from dataclasses import fields, replace

import numpy as np
import pytest

from engine import lab as L
from engine import scenario as io
from engine.nn.train import NetRace
from engine.race.status import Status
from engine.scenario import LAB, LabOptions, RacerConfig, Scenario, ScenarioError


def small(**kw) -> LabOptions:
    return replace(LabOptions(n=80, hidden=[4, 4], batch_size=8), **kw)


def test_lab_field_table_is_the_dataclass_and_its_defaults():
    assert [f.name for f in LAB.fields] == [f.name for f in fields(LabOptions)]
    assert LAB.read({}, "t") == LabOptions()
    # Defaults are fresh copies: editing one scenario's contenders leaves another's alone.
    a, b = Scenario(), Scenario()
    a.lab.contenders[0].hyper["lr"] = 9.0
    a.lab.hidden.append(3)
    assert b.lab == LabOptions() and LAB.read({}, "t") == LabOptions()


def test_a_lab_scenario_round_trips_every_field(tmp_path):
    lab = LabOptions(dataset="moons", noise=0.3, n=123, val_fraction=0.3, data_seed=5, hidden=[8, 8, 8],
                     activation="relu", init="he_normal", init_scale=None, dropout=[0.1, 0.2, 0.5], dropout_form="original",
                     dropconnect=0.0, norm="layer", skip="residual", loss="bce", l2=1e-4, batch_size=16, seed=7, patience=40,
                     contenders=[RacerConfig("sgd", {"lr": 0.1}, label="plain", color="#ff0000",
                                             schedule={"kind": "cosine", "every": 100.0},
                                             clip={"mode": "norm", "threshold": 1.0}, init="uniform", init_scale=0.2),
                                 RacerConfig("adam", {"lr": 0.01, "betas": (0.8, 0.99)}, enabled=False,
                                             init="orthogonal")])
    sc = Scenario(mode="lab", lab=lab, title="t")
    io.save(sc, tmp_path / "lab.toml")
    back = io.load(tmp_path / "lab.toml")
    assert back.lab == lab and back.mode == "lab"
    assert back.racer_names() == ("plain",)
    # A surface scenario with the default lab writes no [lab] table.
    assert "lab" not in Scenario().to_dict() and "lab" in Scenario(mode="lab").to_dict()


@pytest.mark.parametrize("text, match", [
    ("dataset = 'nope'", r"f.toml: lab.dataset must be one of"),
    ("hidden = [16, 0]", r"lab.hidden must be in 1..128 \(each\)"),
    ("hidden = [16, 200]", r"lab.hidden must be in 1..128"),
    ("hidden = []", r"lab.hidden must list 1 to 12 widths"),
    ("hidden = [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]", r"lab.hidden must list 1 to 12"),
    ("hidden = 'wide'", r"lab.hidden must be a list of integers"),
    ("dropout = [0.5]", r"lab.dropout must be empty \(no dropout\) or give one rate per hidden layer \(2\)"),
    ("dropout = [0.5, 1.0]", r"lab.dropout must be in 0..0.99"),
    ("activation = 'swish'", r"lab.activation must be one of"),
    ("init = 'he'", r"lab.init must be one of"),
    ("norm = 'group'", r"lab.norm must be one of"),
    ("skip = 'dense'", r"lab.skip must be one of"),
    ("dropout_form = 'scaled'", r"lab.dropout_form must be one of"),
    ("loss = 'hinge'", r"lab.loss must be one of"),
    ("colour = 1", r"lab: unknown field"),
    ("contenders = []", r"lab.contenders must list at least one contender"),
    ("contenders = [{optimizer = 'adam', hyper = {lr = -1.0}}]", r"lab.contenders\[0\] \(adam\)"),
    ("init_scale = 0.1", r"lab.init_scale: init 'glorot_uniform' has no scale to set"),
    ("init = 'uniform'\ninit_scale = 0.0", r"lab.init_scale must be in 1e-12..100"),
    ("contenders = [{optimizer = 'adam', init = 'he'}]", r"lab.contenders\[0\].init must be one of"),
    ("contenders = [{optimizer = 'adam', init = 'he_normal', init_scale = 2.0}]",
     r"lab.contenders\[0\].init_scale: init 'he_normal' has no scale"),
    # Without its own init a contender's scale sets the lab's init's scale.
    ("contenders = [{optimizer = 'adam', init_scale = 2.0}]", r"lab.contenders\[0\].init_scale: init 'glorot_uniform'"),
])
def test_lab_errors_name_the_file_and_the_field(text, match):
    with pytest.raises(ScenarioError, match=match):
        io.loads(f"schema = 2\nmode = 'lab'\n[lab]\n{text}", "f.toml")


def test_a_surface_racer_takes_no_initialisation():
    for key in ("init = 'zeros'", "init_scale = 0.1"):
        with pytest.raises(ScenarioError, match=r"f.toml: surface.racers\[0\].init.*lab contenders only"):
            io.loads(f"schema = 2\n[[surface.racers]]\noptimizer = 'sgd'\n{key}", "f.toml")


def test_schema_1_cannot_hold_a_lab():
    with pytest.raises(ScenarioError, match="lab needs schema = 2"):
        io.loads("schema = 1\n[lab]\nn = 100")


def test_build_honours_every_network_option():
    net, split, racers = L.build(small(hidden=[5, 6, 7], activation="relu", init="he_uniform"))
    assert net.sizes() == [2, 5, 6, 7, 2] and net.loss.id == "softmax_ce"
    assert [r.label for r in racers] == ["Momentum", "Adam"]
    assert split.X_train.shape[0] + split.X_val.shape[0] == 80
    kinds = [type(x).__name__ for x in net.layers]
    assert kinds == ["Dense", "Activation", "Dense", "Activation", "Dense", "Activation", "Dense"]
    assert all(x.kind == "relu" for x in net.layers if type(x).__name__ == "Activation")
    # He uniform: every weight within sqrt(6 / fan_in); the same seed gives the same weights.
    for (W, _), d in zip(net.layer_params(), net.dense):
        assert np.abs(W).max() <= np.sqrt(6 / d.fan_in)
    assert np.array_equal(net.params, L.build(small(hidden=[5, 6, 7], activation="relu", init="he_uniform"))[0].params)
    assert not np.array_equal(net.params, L.build(small(hidden=[5, 6, 7], activation="relu", init="he_uniform",
                                                         seed=1))[0].params)

    net, _, _ = L.build(small(dropout=[0.2, 0.3], dropout_form="original", norm="batch", dropconnect=0.25))
    kinds = [type(x).__name__ for x in net.layers]
    assert kinds == ["Dense", "BatchNorm", "Activation", "Dropout"] * 2 + ["Dense"]
    assert [x.p for x in net.layers if type(x).__name__ == "Dropout"] == [0.2, 0.3]
    assert all(x.mode == "original" for x in net.layers if type(x).__name__ in ("Dropout",))
    assert [x.dropconnect for x in net.layers if type(x).__name__ == "Dense"] == [0.25, 0.25, 0.0]

    net, _, _ = L.build(small(hidden=[4, 6, 6], skip="residual", norm="layer"))
    assert [type(x).__name__ for x in net.layers] == ["Dense", "LayerNorm", "Activation", "Residual", "LayerNorm",
                                                       "Residual", "LayerNorm", "Dense"]
    assert [x.hidden for x in net.layers if type(x).__name__ == "Residual"] == [6, 6]
    net, _, _ = L.build(small(hidden=[4, 4], skip="highway"))
    assert [type(x).__name__ for x in net.layers] == ["Dense", "Activation", "Highway", "Dense"]

    # Data: digits (64 inputs, 10 classes), the sine (regression, mse), bce on 2 classes.
    net, split, _ = L.build(small(dataset="digits", batch_size=32))
    assert net.input_dim == 64 and net.output_dim == 10 and split.X_train.shape[0] + split.X_val.shape[0] == 1797
    net, _, _ = L.build(small(dataset="sine"))
    assert net.loss.id == "mse" and net.output_dim == 1 and net.input_dim == 1
    net, _, _ = L.build(small(loss="bce"))
    assert net.loss.id == "bce" and net.output_dim == 1


def test_l2_becomes_each_contenders_weight_decay_unless_it_sets_its_own():
    lab = small(l2=1e-3, contenders=[RacerConfig("sgd", {"lr": 0.1}), RacerConfig("adam", {"weight_decay": 0.5})])
    _, _, (a, b) = L.build(lab)
    assert a.hyper["weight_decay"] == 1e-3 and b.hyper["weight_decay"] == 0.5
    with pytest.raises(L.LabError, match=r"lab.l2: contenders\[0\] \(newton\) has no weight_decay"):
        L.build(small(l2=1e-3, contenders=[RacerConfig("newton")]))


@pytest.mark.parametrize("kw, match", [
    (dict(init="identity"), r"lab.init: identity needs square layers: dense1 is 2 x 4 \(and 1 more\)"),
    (dict(skip="highway", hidden=[4, 5]), r"lab.hidden: highway blocks keep their width"),
    (dict(skip="residual", dropconnect=0.1), r"lab.dropconnect: DropConnect applies to plain layers only"),
    (dict(dataset="sine", loss="softmax_ce"), r"lab.loss: sine is a regression data set"),
    (dict(dataset="blobs", loss="bce"), r"lab.loss: 'bce' needs 2 classes, blobs has 3"),
    (dict(batch_size=500), r"lab.batch_size: 500 is more than the 60 training examples"),
    (dict(contenders=[RacerConfig("adam", enabled=False)]), r"lab.contenders: no contender is enabled"),
    (dict(hidden=[4, 0]), r"lab.hidden must be in 1..128"),
    (dict(contenders=[RacerConfig("adam"), RacerConfig("sgd", init="identity")]),
     r"lab.contenders\[1\].init: identity needs square layers: dense1 is 2 x 4"),
])
def test_build_errors_name_the_field(kw, match):
    with pytest.raises(ScenarioError, match=match):
        L.build(small(**kw))


def test_identity_init_builds_where_every_layer_is_square():
    assert L.init_problem(small(hidden=[2, 2]), "identity") == ""
    assert "dense1 is 2 x 4" in L.init_problem(small(), "identity")
    net, _, _ = L.build(small(hidden=[2, 2], init="identity"))
    assert all(np.array_equal(W, np.eye(2)) for W, _ in net.layer_params())


def test_lab_race_trains_every_contender_from_one_start_on_one_batch_order():
    lab = small(contenders=[RacerConfig("sgd", {"lr": 0.1}), RacerConfig("sgd", {"lr": 0.1}, label="twin"),
                            RacerConfig("adam", {"lr": 0.01})])
    race = L.lab_race(lab, val_every=5)
    assert race.K == 3 and np.array_equal(race.params[0], race.params[2])
    c = race.run(20)
    # Identical settings give identical runs (same start, same batches); another optimizer differs.
    assert np.array_equal(c.loss[0], c.loss[1]) and not np.array_equal(c.loss[0], c.loss[2])
    assert c.loss[0, 0] == c.loss[2, 0]  # the first step's loss is before any update: same batch, same start
    assert np.isfinite(c.val_loss[:, 4]).all()


def test_confusion_and_accuracy_count_like_a_loop():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    cm = L.confusion(t, p, 4)
    ref = np.zeros((4, 4), dtype=np.int64)
    for a, b in zip(t, p):
        ref[a, b] += 1
    np.testing.assert_array_equal(cm, ref)
    assert L.accuracy(cm) == pytest.approx(np.mean(t == p))
    assert L.accuracy(L.confusion([], [], 3)) == 0.0
    with pytest.raises(ValueError, match="classes must lie in"):
        L.confusion([0, 4], [0, 1], 4)
    with pytest.raises(ValueError, match="2 true classes but 1"):
        L.confusion([0, 1], [0], 2)


def test_log_heat_limits_are_the_percentiles_of_the_finite_logs():
    v = np.array([[1e-3, 1e-2, np.nan], [1.0, 0.0, np.inf], [10.0, 1e-1, 1e2]])
    logs, bad, zero, lo, hi = L.log_heat(v)
    fin = np.log10(v[np.isfinite(v) & (v > 0)])
    assert lo == pytest.approx(np.percentile(fin, 2)) and hi == pytest.approx(np.percentile(fin, 98))
    # Only NaN and inf are bad (diverged); an exact zero is a value of its own, at the bottom.
    np.testing.assert_array_equal(bad, [[False, False, True], [False, False, True], [False, False, False]])
    np.testing.assert_array_equal(zero, v == 0)
    assert np.all(logs[bad | zero] == lo) and logs[0, 1] == pytest.approx(-2.0)
    # Nothing finite, or a single value: limits that still span a range.
    assert L.log_heat(np.full((2, 2), np.nan))[3:] == (0.0, 1.0)
    assert not L.log_heat(np.zeros((2, 2)))[1].any()
    _, _, _, lo, hi = L.log_heat(np.full((2, 2), 5.0))
    assert hi > lo


def early_lab(**kw) -> LabOptions:
    return LabOptions(dataset="moons", n=40, noise=0.4, hidden=[32, 32], batch_size=8, seed=3, patience=30,
                      contenders=[RacerConfig("adam", {"lr": 0.05}, label="fast"),
                                  RacerConfig("sgd", {"lr": 0.001}, label="slow")], **kw)


@pytest.mark.parametrize("val_every", [1, 10])
def test_patience_stops_a_contender_that_no_longer_improves(val_every):
    from engine.nn import train_kernels as TK

    race = L.lab_race(early_lab(), val_every=val_every)
    assert race.patience == L.patience_checks(30, val_every) == -(-30 // val_every)
    race.run(600)
    for r in range(race.K):
        st = race.status_of(r)
        assert st.kind == Status.STOPPED
        # It stopped patience steps (whole validations) after its best validation loss.
        assert st.step == int(race.es[r, TK.ES_STEP]) + race.patience * val_every
    # Off (0): nobody stops.
    race = L.lab_race(replace(early_lab(), patience=0), val_every=val_every)
    race.run(300)
    assert all(race.status_of(r).kind == Status.TRAINING for r in range(race.K))


def test_a_lab_claim_names_stopped_early():
    from engine import claims as C
    from engine import lessons
    from engine.scenario import ExportOptions

    sc = Scenario(mode="lab", lab=early_lab(), export=ExportOptions(last=300))
    run = lessons.lab_run(sc)
    fast = run.status[0]
    assert fast.kind == Status.STOPPED
    claim = {"kind": "reaches", "racer": "fast", "status": "stopped early", "margin": 0}
    C.validate({**claim, "by_step": 100}, run.names, 300, "lab")
    assert C.check(run, {**claim, "by_step": fast.step}).ok
    assert not C.check(run, {**claim, "by_step": fast.step - 1}).ok
    assert not C.check(run, {"kind": "still_racing", "racer": "fast", "until_step": fast.step, "margin": 0}).ok


def test_a_contender_with_its_own_init_trains_as_a_lab_built_with_that_init():
    inits = [(None, None), ("he_normal", None), ("uniform", 0.3), (None, 0.2), ("zeros", None)]
    lab = small(init="normal", activation="relu",
                contenders=[RacerConfig("sgd", {"lr": 0.1}, label=f"c{i}", init=init, init_scale=scale)
                            for i, (init, scale) in enumerate(inits)])
    race = L.lab_race(lab, val_every=5)
    c = race.run(15)
    for r, (init, scale) in enumerate(inits):
        # Built separately: the lab with that init (a contender's scale alone scales the lab's init).
        alone = L.lab_race(replace(lab, init=init or lab.init, init_scale=scale, contenders=[lab.contenders[r]]),
                           val_every=5)
        start = alone.params[0].copy()
        a = alone.run(15)
        np.testing.assert_array_equal(race.params[r], alone.params[0])
        np.testing.assert_array_equal(c.loss[r], a.loss[0])
        assert np.array_equal(L.lab_race(lab, val_every=5).params[r], start)
    # The contenders differ only by their start.
    assert not np.array_equal(race.params[0], race.params[1])
    assert L.initial_params(small(), L.build(small())[0]) is None
