"""Every lesson in resources/lessons/: what its captions name is in the lesson (racers and
contenders, layers of its network), and saving then loading it gives the same lesson
(check-lessons, run by tests/app/test_lessons_cli.py, checks its claims)."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from engine import lessons as L
from engine import scenario as io
from engine.lab import layer_shapes
from engine.optim import optimizers as O

LESSONS = L.lesson_files(Path(__file__).resolve().parents[2] / "resources" / "lessons")
# Every name an optimizer goes by, matched in any case: its shown name (Momentum, AdaGrad) and
# its id where that differs (adamw for AdamW differs only in case, so is the same name).
OPTIMIZER_NAMES = sorted({n.lower(): n for s in map(O.spec, O.names()) for n in (s.id, s.name)}.values(),
                         key=str.lower)
# "layer 3", "layers 1 and 11", "layers 2 to 4, 6".
LAYERS = re.compile(r"\blayers?\s+(\d+(?:\s*(?:,|and|or|to|-|–)\s*\d+)*)", re.IGNORECASE)


def on_screen(sc: io.Scenario) -> list[tuple[str, str]]:
    """(where, text) of everything the lesson writes on screen: its title, caption and the
    caption of each pause."""
    out = [("title", sc.title), ("caption", sc.caption)]
    out += [(f"pause at {p.step}", p.caption) for p in sc.lesson.pauses]
    return out


def racers_of(sc: io.Scenario) -> list[io.RacerConfig]:
    return sc.lab.enabled_contenders() if sc.mode == "lab" else sc.enabled_racers()


def named_but_absent(sc: io.Scenario) -> list[str]:
    """Optimizer names in the lesson's texts that are neither a racer's label nor the name or
    id of a racer's optimizer."""
    has = {n.lower() for r in racers_of(sc) for n in (r.label, r.optimizer, O.spec(r.optimizer).name) if n}
    wrong = []
    for where, text in on_screen(sc):
        for name in OPTIMIZER_NAMES:
            if name.lower() not in has and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE):
                wrong.append(f"{where} names {name!r}")
    return wrong


def layers_beyond(sc: io.Scenario) -> list[str]:
    """Layers named in the lesson's texts ("layer N") that its network does not have (a
    surface race has none)."""
    n = len(layer_shapes(sc.lab)) if sc.mode == "lab" else 0
    wrong = []
    for where, text in on_screen(sc):
        for m in LAYERS.finditer(text):
            wrong += [f"{where} names layer {k} of {n}" for k in map(int, re.findall(r"\d+", m[1]))
                      if not 1 <= k <= n]
    return wrong


def test_the_library_is_found():
    assert LESSONS and all(path.suffix == ".toml" for path in LESSONS.values())


@pytest.mark.parametrize("id", LESSONS)
def test_captions_name_only_the_lessons_racers_and_layers(id):
    sc = io.load(LESSONS[id])
    assert named_but_absent(sc) == [] and layers_beyond(sc) == []


@pytest.mark.parametrize("id", LESSONS)
def test_save_then_load_gives_the_same_lesson(id, tmp_path):
    sc = io.load(LESSONS[id])
    assert io.loads(io.dumps(sc)) == sc
    io.save(sc, tmp_path / f"{id}.toml")
    again = io.load(tmp_path / f"{id}.toml")
    assert again == sc and again.lesson == sc.lesson and again.lesson.pauses == sc.lesson.pauses


def test_a_caption_naming_a_racer_the_lesson_lacks_is_caught():
    sc = copy.deepcopy(io.load(LESSONS["ravine_momentum"]))
    assert named_but_absent(sc) == []
    sc.lesson.pauses[0].caption += " Adam would be faster."
    sc.caption = "AdaGrad and nesterov race."  # Nesterov is a racer here, in any case
    assert named_but_absent(sc) == ["caption names 'AdaGrad'", "pause at 60 names 'Adam'"]


def test_a_caption_naming_a_layer_the_network_lacks_is_caught():
    lab = next(io.load(p) for p in LESSONS.values() if io.load(p).mode == "lab")
    n = len(layer_shapes(lab.lab))
    lab.caption = f"Layers 1 and {n} differ; layer {n + 1} does not exist."
    assert layers_beyond(lab) == [f"caption names layer {n + 1} of {n}"]
    surface = io.load(LESSONS["saddle_escape"])
    surface.caption = "The first layer is fine, layer 1 is not."
    assert layers_beyond(surface) == ["caption names layer 1 of 0"]


def test_the_library_teaches_the_lecture_in_topics():
    scenarios = [io.load(p) for p in LESSONS.values()]
    assert len(scenarios) >= 20
    assert all(sc.lesson.topic and sc.lesson.notes and sc.lesson.pauses for sc in scenarios)
    orders = [sc.lesson.order for sc in scenarios]
    assert len(set(orders)) == len(orders)  # one place each in the lecture's order
    topics = [sc.lesson.topic for sc in sorted(scenarios, key=lambda sc: sc.lesson.order)]
    runs = [t for i, t in enumerate(topics) if i == 0 or t != topics[i - 1]]
    assert len(runs) == len(set(runs)), f"a topic's lessons are not together in order: {runs}"
    assert {sc.mode for sc in scenarios} == {"surface", "lab"}
