"""Every registry (optimizers, surfaces, activations, losses, initializers, data sets,
schedules, clipping modes) through
the one helper: ids, lookups and the one error for an unknown id, checked on whatever each
registry holds rather than on a copied list."""
from __future__ import annotations

import dataclasses

import pytest

from engine import data
from engine.optim import optimizers as O
from engine.surfaces import catalog as S
from engine.nn import activations, initializers, losses
from engine.optim.registry import Registry, UnknownId
from engine.race.gradients import CLIPS
from engine.race.schedules import SCHEDULES

# Each registry with the module functions the library has always offered for it.
REGISTRIES = {
    "optimizer": (O.OPTIMIZERS, O.spec, O.names),
    "surface": (S.SURFACES, S.get, S.names),
    "activation": (activations.ACTIVATIONS, activations.get, activations.names),
    "loss": (losses.LOSSES, losses.get, losses.names),
    "initializer": (initializers.INITIALIZERS, initializers.get, initializers.names),
    "data set": (data.DATA_SETS, data.spec, data.names),
    "schedule": (SCHEDULES, SCHEDULES.get, SCHEDULES.ids),
    "clipping": (CLIPS, CLIPS.get, CLIPS.ids),
}


@pytest.mark.parametrize("kind", REGISTRIES)
def test_ids_are_unique_snake_case_and_look_up_their_spec(kind):
    reg, get, names = REGISTRIES[kind]
    assert reg.kind == kind
    ids = reg.ids()
    assert ids and len(set(ids)) == len(ids)
    assert [s.id for s in reg] == ids == names()  # display order is registration order
    for i in ids:
        assert i.isidentifier() and i == i.lower(), i
        spec = get(i)
        assert spec is reg.get(i) and spec.id == i
        assert dataclasses.is_dataclass(spec) and type(spec).__dataclass_params__.frozen


@pytest.mark.parametrize("kind", [k for k in REGISTRIES if hasattr(next(iter(REGISTRIES[k][0])), "code")])
def test_kernel_codes_are_distinct(kind):
    """Surfaces, activations and losses reach their kernels as an integer code each."""
    reg = REGISTRIES[kind][0]
    codes = [s.code for s in reg]
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("kind", REGISTRIES)
@pytest.mark.parametrize("bad", ["no_such_id", "", ["a", "list"]])
def test_an_unknown_id_raises_one_error_naming_the_kind_and_every_valid_id(kind, bad):
    reg, get, _ = REGISTRIES[kind]
    with pytest.raises(UnknownId) as info:
        get(bad)
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    message = str(info.value)
    assert message.startswith(f"unknown {kind} {bad!r}; known: ")
    assert message.split("; known: ")[1].split(", ") == reg.ids()


def test_public_entry_points_raise_it_too():
    from engine import nn
    from engine.race.race import run_race

    for call in (lambda: run_race("no_such_surface", (0, 0), ["sgd"], 1),
                 lambda: run_race("beale", (0, 0), ["no_such_optimizer"], 1),
                 lambda: data.load("no_such_data"),
                 lambda: nn.mlp([2, 3, 2], loss="no_such_loss"),
                 lambda: nn.mlp([2, 3, 2], init="no_such_init")):
        with pytest.raises(UnknownId, match="no_such"):
            call()


def test_a_registry_refuses_an_id_twice():
    @dataclasses.dataclass(frozen=True)
    class Spec:
        id: str

    with pytest.raises(ValueError, match="widget id 'a' is registered twice"):
        Registry("widget", [Spec("a"), Spec("b"), Spec("a")])
