"""The app model: edits validate before they change anything, and each emits its signal."""
import pytest

from app.model import ScenarioModel
from engine import scenario as io
from engine.scenario import RacerConfig, Scenario, ScenarioError


@pytest.fixture
def model():
    return ScenarioModel(Scenario(surface="beale", racers=[RacerConfig("sgd", {"lr": 0.01}), RacerConfig("adam")]))


def test_a_bad_value_is_refused_with_its_name_and_the_model_is_unchanged(model):
    with pytest.raises(ValueError, match="SGD: lr=-1.0"):
        model.set_hyper(0, "lr", -1.0)
    assert model.scenario.racers[0].hyper == {"lr": 0.01}
    model.set_hyper(0, "lr", 99.0)  # beyond the slider, but a learning rate torch accepts
    assert model.scenario.racers[0].hyper == {"lr": 99.0}
    with pytest.raises(KeyError, match="known"):
        model.set_surface("nowhere")
    assert model.scenario.surface == "beale"
    with pytest.raises(ValueError, match="kappa"):
        model.set_surface("quadratic")
        model.set_surface_param("kappa", -1.0)
    assert model.scenario.surface_params == {}


def test_edits_emit_the_right_signals(model, qtbot):
    with qtbot.waitSignals([model.racers_changed, model.race_changed]):
        model.add_racer("lion", {"lr": 1e-3})
    with qtbot.assertNotEmitted(model.racers_changed), qtbot.waitSignal(model.race_changed):
        model.set_hyper(2, "lr", 2e-3)
    with qtbot.assertNotEmitted(model.race_changed), qtbot.waitSignal(model.view_changed) as blocker:
        model.set_view("theme", "light")
    assert blocker.args == ["theme"]
    with qtbot.assertNotEmitted(model.race_changed):
        model.set_color(0, "#123456")  # a new colour does not restart the race


def test_removing_the_selected_last_racer_moves_the_selection(model):
    model.set_view("selected", 1)
    model.remove_racer(1)
    assert model.scenario.view.selected == 0
    model.scenario.validate()


def test_view_options_round_trip_through_a_scenario_file(model, tmp_path):
    model.set_view("projector", True)
    model.set_view("selected", 1)
    model.set_view("steps_per_frame", 250)
    path = tmp_path / "race.toml"
    io.save(model.scenario, path)
    back = io.load(path)
    assert (back.view.projector, back.view.selected, back.view.steps_per_frame) == (True, 1, 250)
    text = path.read_text().replace("selected = 1", "selected = 7")
    with pytest.raises(ScenarioError, match="view.selected"):
        io.loads(text)


def test_presets(model):
    model.preset("classic")
    assert [r.optimizer for r in model.scenario.racers] == ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
    model.preset("all")
    from engine.optim import optimizers as O

    assert [r.optimizer for r in model.scenario.racers] == O.names()
    assert len(set(model.racer_names())) == len(O.names())
