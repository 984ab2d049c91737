"""The one status vocabulary: every code has its words, and a racer's standing reads the way
the inspector shows it.  (test_race and test_nn_train check the codes the kernels store.)"""
from __future__ import annotations

from engine.race.status import Standing, Status


def test_every_status_has_distinct_words():
    for words in ("label", "short", "tip"):
        texts = [getattr(s, words) for s in Status]
        assert all(t.strip() for t in texts) and len(set(texts)) == len(texts), words
    assert all(len(s.short) <= len(s.label) for s in Status)
    assert {s for s in Status if s.moving} == {Status.RACING, Status.TRAINING}


def test_a_standing_reads_as_its_label_and_step():
    assert str(Standing(Status.DIVERGED, 123)) == f"{Status.DIVERGED.label} at 123"
    assert str(Standing(Status.TRAINING, 0)) == Status.TRAINING.label
    kind, step = Standing(Status.STOPPED, 40)  # unpacks like the (kind, step) pair it is
    assert (kind, step) == (Status.STOPPED, 40)

