"""Scenario files (schema 1): a round trip keeps everything, every error names the file and
the field, and saving is atomic."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import scenario as io
from engine.scenario import ExportOptions, RacerConfig, Scenario, ScenarioError, ViewOptions, classic_six

LESSONS = Path(__file__).resolve().parents[2] / "resources" / "lessons"


def full() -> Scenario:
    racers = classic_six("beale")
    racers[0].schedule = {"kind": "cosine", "every": 500.0, "floor": 0.1, "warmup": 10}
    racers[1].clip = {"mode": "norm", "threshold": 2.5}
    racers[2].enabled = False
    racers[3].label = "AdaGrad, big steps"
    return Scenario(surface="quadratic", surface_params={"kappa": 40.0, "angle": 15.0}, start=(-2.0, 1.25),
                    racers=racers, noise=0.05, seed=7, title="A title", caption="A caption, with \"quotes\"",
                    view=ViewOptions(theme="light", steps_per_frame=20, loop=True),
                    export=ExportOptions(first=10, last=900, steps_per_frame=3, fps=25, size=(1920, 1080), hold_last=1.5))


def test_round_trip_keeps_every_field(tmp_path):
    sc = full()
    path = tmp_path / "s.toml"
    io.save(sc, path)
    back = io.load(path)
    assert back == sc
    assert io.loads(io.dumps(back)) == sc
    assert 'schema = 1' in path.read_text()


def test_round_trip_gives_the_same_race(tmp_path):
    sc = full()
    io.save(sc, tmp_path / "s.toml")
    a, b = sc.build_race(), io.load(tmp_path / "s.toml").build_race()
    ca, cb = a.advance(200), b.advance(200)
    assert np.array_equal(ca.positions, cb.positions)
    assert len(a.racers) == 5  # the disabled racer is left out


def test_defaults_fill_what_a_file_leaves_out():
    sc = io.loads('schema = 1\nsurface = "booth"\n[[racers]]\noptimizer = "adam"\n')
    assert sc.surface == "booth" and sc.racers[0].optimizer == "adam"
    assert sc.start_point() == (-8.0, -6.0)
    assert sc.export == ExportOptions() and sc.view == ViewOptions()


@pytest.mark.parametrize("text,field", [
    ('surface = "nope"', "surface"),
    ('surface = "beale"\nnoise = -1.0', "noise"),
    ('start = [1.0]', "start"),
    ('colour = "red"', "unknown field(s) ['colour']"),
    ('[[racers]]\noptimizer = "sgdd"', "racers[0]"),
    ('[[racers]]\noptimizer = "sgd"\n[[racers]]\noptimizer = "adam"\nhyper = { lr = -1.0 }', "racers[1] (adam)"),
    ('[[racers]]\nhyper = { lr = 0.1 }', "racers[0]: a racer needs an 'optimizer'"),
    ('[[racers]]\noptimizer = "sgd"\nclip = { mode = "sometimes" }', "racers[0] (sgd)"),
    ('[view]\ntheme = "neon"', "view.theme"),
    ('[view]\nloop = "yes"', "view.loop"),
    ('[export]\nfps = "fast"', "export.fps"),
    ('[export]\nfps = 0', "export.fps"),
    ('[export]\nsize = [1920]', "export.size"),
    ('[export]\nsize = [8, 8]', "export.size"),
    ('[export]\nfirst = 50\nlast = 10', "export.first"),
    ('[export]\nhold_last = -2.0', "export.hold_last"),
    ('[export]\ncodec = "h265"', "unknown field(s) ['codec']"),
])
def test_errors_name_the_file_and_the_field(tmp_path, text, field):
    path = tmp_path / "lesson.toml"
    path.write_text("schema = 1\n" + text + "\n")
    with pytest.raises(ScenarioError) as e:
        io.load(path)
    msg = str(e.value)
    assert msg.startswith(str(path)) and field in msg


def test_schema_version_and_toml_syntax_are_checked(tmp_path):
    with pytest.raises(ScenarioError, match="schema must be 1, got None"):
        io.loads('surface = "beale"', "f.toml")
    with pytest.raises(ScenarioError, match="schema must be 1, got 2"):
        io.loads("schema = 2", "f.toml")
    with pytest.raises(ScenarioError, match="f.toml: not valid TOML"):
        io.loads("schema = = 1", "f.toml")
    with pytest.raises(ScenarioError, match="cannot read"):
        io.load(tmp_path / "missing.toml")


def test_save_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "s.toml"
    io.save(full(), path)
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.os, "replace", fail)
    other = full()
    other.title = "changed"
    with pytest.raises(OSError, match="No space"):
        io.save(other, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]  # no partial temporary file


def test_save_refuses_an_invalid_scenario_and_leaves_the_file(tmp_path):
    path = tmp_path / "s.toml"
    io.save(full(), path)
    before = path.read_bytes()
    bad = full()
    bad.racers.append(RacerConfig("no_such_optimizer"))
    with pytest.raises(ScenarioError, match=r"racers\[6\]"):
        io.save(bad, path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("path", sorted(LESSONS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_lesson_is_a_valid_titled_scenario_that_races(path):
    sc = io.load(path)
    assert sc.title and sc.caption and sc.enabled_racers()
    race = sc.build_race()
    race.advance(sc.export.last)
    assert io.loads(io.dumps(sc)) == sc


def test_the_classic_six_lesson_is_the_classic_six_on_beale():
    sc = io.load(LESSONS / "classic_six_beale.toml")
    assert sc.surface == "beale" and sc.start_point() == (1.0, 1.5)
    assert [(r.optimizer, r.hyper) for r in sc.racers] == [(r.optimizer, r.hyper) for r in classic_six("beale")]
