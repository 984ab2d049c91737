"""Scenario files (schema 2, from one field table): a round trip keeps everything, schema 1
files load as surface races, every error names the file and the field, saving is atomic."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from engine import scenario as io
from engine.scenario import (EXPORT, REBUILD, RESTYLE, SURFACE, VIEW, ExportOptions, Lesson, Pause, RacerConfig,
                             Scenario, ScenarioError, ViewOptions, classic_six, field_spec)

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
    text = path.read_text()
    assert 'schema = 2' in text and '[surface]' in text and 'mode = "surface"' in text


def test_round_trip_gives_the_same_race(tmp_path):
    sc = full()
    io.save(sc, tmp_path / "s.toml")
    a, b = sc.build_race(), io.load(tmp_path / "s.toml").build_race()
    ca, cb = a.advance(200), b.advance(200)
    assert np.array_equal(ca.positions, cb.positions)
    assert len(a.racers) == 5  # the disabled racer is left out


def test_defaults_fill_what_a_file_leaves_out():
    sc = io.loads('schema = 2\n[surface]\nid = "booth"\n[[surface.racers]]\noptimizer = "adam"\n')
    assert sc.surface == "booth" and sc.racers[0].optimizer == "adam"
    assert sc.start_point() == (-8.0, -6.0)
    assert sc.export == ExportOptions() and sc.view == ViewOptions()


@pytest.mark.parametrize("text,field", [
    ('[surface]\nid = "nope"', "surface: unknown surface"),
    ('[surface]\nnoise = -1.0', "surface.noise must be >= 0"),
    ('[surface]\nstart = [1.0]', "surface.start must be a pair of numbers"),
    ('colour = "red"', "unknown field(s) ['colour']"),
    ('mode = "race"', "mode must be one of 'surface', 'lab', 'tuning', 'diff'"),
    ('[lab]\nlayers = 3', "lab: unknown field(s) ['layers']"),
    ('[[surface.racers]]\noptimizer = "sgdd"', "surface.racers[0]"),
    ('[[surface.racers]]\noptimizer = "sgd"\n[[surface.racers]]\noptimizer = "adam"\nhyper = { lr = -1.0 }',
     "surface.racers[1] (adam)"),
    ('[[surface.racers]]\nhyper = { lr = 0.1 }', "surface.racers[0]: missing field(s) ['optimizer']"),
    ('[[surface.racers]]\noptimizer = "sgd"\nclip = { mode = "sometimes" }', "surface.racers[0] (sgd)"),
    ('[view]\ntheme = "neon"', "view.theme must be one of 'light', 'dark'"),
    ('[view]\nloop = "yes"', "view.loop must be true or false"),
    ('[view]\nsteps_per_frame = 0', "view.steps_per_frame must be in 1..1000"),
    ('[export]\nfps = "fast"', "export.fps must be an integer"),
    ('[export]\nfps = 0', "export.fps must be in 1..240"),
    ('[export]\nsize = [1920]', "export.size"),
    ('[export]\nsize = [8, 8]', "export.size must be >= 16 (width and height each)"),
    ('[export]\nfirst = 50\nlast = 10', "export.first"),
    ('[export]\nhold_last = -2.0', "export.hold_last"),
    ('[export]\ncodec = "h265"', "unknown field(s) ['codec']"),
    ('[lesson]\ntitle = "t"', "lesson: missing field(s) ['id']"),
    ('title = "a"\n[lesson]\nid = "x"\ntitle = "b"', "title is given twice"),
    ('[[surface.racers]]\noptimizer = "sgd"\n[lesson]\nid = "x"\nclaims = [{ kind = "wins" }]',
     "lesson.claims[0]: kind must be one of"),
    ('[[surface.racers]]\noptimizer = "sgd"\n[lesson]\nid = "x"\nclaims = [{ kind = "reaches", racer = "Adam", '
     'status = "finished", by_step = 10 }]', "lesson.claims[0]: reaches: racer 'Adam' is not a racer; racers: SGD"),
    ('[[surface.racers]]\noptimizer = "sgd"\n[lesson]\nid = "x"\nclaims = [{ kind = "reaches", racer = "SGD", '
     'status = "finished", by_step = 9999 }]', "by_step must be in 0..600"),
    ('[[surface.racers]]\noptimizer = "sgd"\n[lesson]\nid = "x"\n[[lesson.pauses]]\nstep = 10\ncaption = "c"\n'
     'claims = []', "lesson.pauses[0] (step 10): needs at least one claim"),
    ('[[surface.racers]]\noptimizer = "sgd"\n[[surface.racers]]\noptimizer = "sgd"\n[lesson]\nid = "x"\n'
     'claims = [{ kind = "reaches", racer = "SGD", status = "finished", by_step = 10 }]', "shared by several racers"),
])
def test_errors_name_the_file_and_the_field(tmp_path, text, field):
    path = tmp_path / "lesson.toml"
    path.write_text("schema = 2\n" + text + "\n")
    with pytest.raises(ScenarioError) as e:
        io.load(path)
    msg = str(e.value)
    assert msg.startswith(str(path)) and field in msg, msg


def test_schema_1_files_load_as_surface_races():
    old = io.loads('schema = 1\nsurface = "quadratic"\nsurface_params = { kappa = 40.0 }\nstart = [1.0, 2.0]\n'
                   'noise = 0.5\nseed = 3\ntitle = "T"\n[[racers]]\noptimizer = "adam"\nhyper = { betas = [0.8, 0.9] }\n'
                   '[view]\ntheme = "light"\n')
    assert old.mode == "surface" and old.surface == "quadratic" and old.surface_params == {"kappa": 40.0}
    assert (old.start, old.noise, old.seed, old.title) == ((1.0, 2.0), 0.5, 3, "T")
    assert old.racers[0].hyper == {"betas": (0.8, 0.9)} and old.view.theme == "light"
    assert io.loads(io.dumps(old)) == old  # written back as schema 2
    with pytest.raises(ScenarioError, match=r"f.toml: colour|unknown field\(s\) \['colour'\]"):
        io.loads('schema = 1\ncolour = "red"', "f.toml")
    with pytest.raises(ScenarioError, match="f.toml: lesson needs schema = 2"):
        io.loads('schema = 1\n[lesson]\nid = "x"', "f.toml")


def test_schema_version_and_toml_syntax_are_checked(tmp_path):
    with pytest.raises(ScenarioError, match="schema must be 1 or 2, got None"):
        io.loads('mode = "surface"', "f.toml")
    with pytest.raises(ScenarioError, match="f.toml: schema 3 is newer than this OptiRace reads"):
        io.loads("schema = 3", "f.toml")
    with pytest.raises(ScenarioError, match="schema must be 1 or 2, got 'two'"):
        io.loads('schema = "two"', "f.toml")
    with pytest.raises(ScenarioError, match="f.toml: not valid TOML"):
        io.loads("schema = = 1", "f.toml")
    with pytest.raises(ScenarioError, match="cannot read"):
        io.load(tmp_path / "missing.toml")


def test_the_field_table_is_the_file_format():
    # Every dataclass field has exactly one row, and defaults come from the rows.
    for section, cls in ((VIEW, ViewOptions), (EXPORT, ExportOptions)):
        assert [f.name for f in section.fields] == [f.name for f in fields(cls)]
        assert cls() == section.read({}, "t")
    assert {f.name for f in SURFACE.fields} <= {f.name for f in fields(Scenario)}
    assert field_spec("view", "theme").effect == RESTYLE and field_spec("surface", "noise").effect == REBUILD
    # A range in the table is what the file is checked against: move the limit, the check moves.
    assert field_spec("export", "fps").hi == 240
    with pytest.raises(ScenarioError, match="export.fps must be in 1..240"):
        io.loads("schema = 2\n[export]\nfps = 241")
    with pytest.raises(KeyError, match="unknown field 'colour'"):
        field_spec("view", "colour")


def test_a_lesson_round_trips_with_its_title_and_caption_in_its_table():
    claim = {"kind": "finishes_before", "racer": "Adam", "other": "SGD", "margin": 5}
    sc = Scenario(racers=[RacerConfig("sgd"), RacerConfig("adam")], title="T", caption="C",
                  lesson=Lesson("x", topic="Adaptive", order=3, notes="n", claims=[claim],
                                pauses=[Pause(10, "p", [dict(claim)])]))
    d = sc.to_dict()
    assert d["lesson"]["title"] == "T" and d["lesson"]["caption"] == "C" and "title" not in d
    back = io.loads(io.dumps(sc))
    assert back == sc


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
    assert sc.title and sc.caption
    if sc.mode == "lab":  # the network lab's lessons train their contenders
        from engine.lab import lab_race

        assert sc.lab.enabled_contenders()
        lab_race(sc.lab).advance(sc.export.last)
    else:
        assert sc.mode == "surface" and sc.enabled_racers()
        sc.build_race().advance(sc.export.last)
    assert io.loads(io.dumps(sc)) == sc


def test_the_classic_six_lesson_is_the_classic_six_on_beale():
    sc = io.load(LESSONS / "classic_six_beale.toml")
    assert sc.surface == "beale" and sc.start_point() == (1.0, 1.5)
    assert [(r.optimizer, r.hyper) for r in sc.racers] == [(r.optimizer, r.hyper) for r in classic_six("beale")]
