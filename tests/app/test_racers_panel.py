"""The racers panel's schedule, clipping and noise controls are built from the engine's specs,
and follow the model both ways."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.model import ScenarioModel
from app.panels.racers import RacersPanel
from engine.race.gradients import CLIPS, NOISE
from engine.race.schedules import SCHEDULES, WARMUP
from engine.scenario import RacerConfig, Scenario


@pytest.fixture
def panel(qtbot):
    model = ScenarioModel(Scenario(surface="booth", racers=[RacerConfig("sgd", {"lr": 0.01}),
                                                           RacerConfig("adam", {"lr": 0.1})]))
    p = RacersPanel(model)
    qtbot.addWidget(p)
    p.list.setCurrentRow(1)
    return p


def _combo(editor):
    c = editor.combo
    return [(c.itemText(i), c.itemData(i)) for i in range(c.count())]


def test_choices_and_their_parameters_come_from_the_specs(panel):
    assert _combo(panel.schedule) == [(s.name, s.id) for s in SCHEDULES]
    assert _combo(panel.clip) == [(s.name, s.id) for s in CLIPS]
    for i, spec in enumerate(SCHEDULES):
        panel.schedule.combo.setCurrentIndex(i)
        assert list(panel.schedule.editors) == [h.name for h in spec.params]
        assert [ed.hyper for ed in panel.schedule.editors.values()] == list(spec.params)
        assert panel.schedule.combo.itemData(i, Qt.ToolTipRole) == spec.describe()
    assert [ed.hyper for ed in panel.schedule.common.values()] == list(WARMUP.params)
    for i, spec in enumerate(CLIPS):
        panel.clip.combo.setCurrentIndex(i)
        assert [ed.hyper for ed in panel.clip.editors.values()] == list(spec.params)
    assert panel.noise.hyper == NOISE.params[0] and panel.noise.toolTip() == NOISE.describe()


def test_widgets_write_the_model_and_the_race_uses_it(panel):
    model = panel.model
    panel.schedule.combo.setCurrentIndex(SCHEDULES.ids().index("step"))
    assert model.scenario.racers[1].schedule == {"kind": "step", "gamma": 0.5, "every": 100.0}
    panel.schedule.editors["gamma"].box.setValue(0.25)
    panel.schedule.common["warmup"].box.setValue(20)
    assert model.scenario.racers[1].schedule == {"kind": "step", "gamma": 0.25, "every": 100.0, "warmup": 20.0}
    panel.clip.combo.setCurrentIndex(CLIPS.ids().index("value"))
    panel.clip.editors["threshold"].box.setValue(0.5)
    assert model.scenario.racers[1].clip == {"mode": "value", "threshold": 0.5}
    panel.noise.box.setValue(0.3)
    assert model.scenario.noise == 0.3
    assert model.scenario.racers[0].schedule == {} and model.scenario.racers[0].clip == {}
    race = model.scenario.build_race()
    np.testing.assert_array_equal(race.sched[1], [SCHEDULES.get("step").code, 20.0, 0.25, 100.0])
    np.testing.assert_array_equal(race.clip[1], [CLIPS.get("value").code, 0.5])
    np.testing.assert_array_equal(race.clip[0], [CLIPS.get("none").code, 0.0])
    # Back to the first choice with the warm-up at 0: nothing left to save.
    panel.schedule.common["warmup"].box.setValue(0)
    panel.schedule.combo.setCurrentIndex(0)
    assert model.scenario.racers[1].schedule == {}


def test_model_changes_show_in_the_widgets(panel):
    model = panel.model
    model.set_schedule(1, {"kind": "cosine", "every": 500.0, "floor": 0.1, "warmup": 10})
    assert panel.schedule.combo.currentData() == "cosine"
    assert panel.schedule.editors["every"].box.value() == 500.0
    assert panel.schedule.editors["floor"].box.value() == pytest.approx(0.1)
    assert panel.schedule.common["warmup"].box.value() == 10.0
    model.set_clip(1, {"mode": "norm", "threshold": 2.5})
    assert panel.clip.combo.currentData() == "norm" and panel.clip.editors["threshold"].box.value() == 2.5
    # Another racer's settings, then back: each shows its own.
    panel.list.setCurrentRow(0)
    assert panel.schedule.combo.currentData() == "constant" and not panel.schedule.editors
    assert panel.clip.combo.currentData() == "none" and not panel.clip.editors
    panel.list.setCurrentRow(1)
    assert panel.schedule.combo.currentData() == "cosine" and panel.clip.combo.currentData() == "norm"


def test_a_lab_contenders_own_initialisation_is_chosen_in_the_lab_panel_only(panel, qtbot):
    from dataclasses import replace

    from app.model import LabContenders
    from engine import lab as L
    from engine.nn import initializers as INIT
    from engine.scenario import LabOptions

    assert panel.init.isHidden()  # the surface race's racers have no initialisation
    model = ScenarioModel(Scenario(mode="lab", lab=LabOptions(
        n=80, hidden=[4, 4], batch_size=8, init="uniform", init_scale=0.3,
        contenders=[RacerConfig("sgd", {"lr": 0.1}), RacerConfig("adam", init="uniform", init_scale=0.2)])))
    contenders = LabContenders(model)
    p = RacersPanel(contenders, extras=False)
    qtbot.addWidget(p)
    assert not p.init.isHidden()
    assert [p.init.itemData(i) for i in range(p.init.count())] == [None, *INIT.names()]
    p.list.setCurrentRow(0)
    assert p.init.currentData() is None and p.init.currentText() == "(the lab's)"
    p.list.setCurrentRow(1)
    assert p.init.currentData() == "uniform"
    with qtbot.waitSignal(contenders.race_changed):
        p.init.setCurrentIndex(p.init.findData("he_normal"))
    # He normal has no scale: the contender's uniform scale goes; the other contender is untouched.
    lab = model.scenario.lab
    assert (lab.contenders[1].init, lab.contenders[1].init_scale) == ("he_normal", None)
    assert (lab.contenders[0].init, lab.contenders[0].init_scale) == (None, None)
    race = L.lab_race(lab)
    he = L.build(replace(lab, init="he_normal", init_scale=None))[0].params
    np.testing.assert_array_equal(race.params[1], he)
    np.testing.assert_array_equal(race.params[0], L.build(lab)[0].params)
    p.init.setCurrentIndex(0)
    assert lab.contenders[1].init is None
    contenders.set_init(1, "orthogonal")
    assert p.init.currentData() == "orthogonal"
