"""The loss registry: softmax cross-entropy, mean squared error, binary cross-entropy."""
from __future__ import annotations

from dataclasses import dataclass

from ..optim.registry import Registry
from . import ops


@dataclass(frozen=True)
class LossSpec:
    id: str
    name: str
    code: int
    formula: str
    torch: str
    classification: bool  # labels are class indices (softmax_ce) or 0/1 targets (bce)
    min_outputs: int = 1


LOSSES = Registry("loss", [
    LossSpec("softmax_ce", "Softmax cross-entropy", ops.SOFTMAX_CE,
             "L = mean_i [log sum_j e^z_ij - z_i,y_i]", "nn.CrossEntropyLoss()", True, min_outputs=2),
    LossSpec("mse", "Mean squared error", ops.MSE, "L = mean_ij (z_ij - y_ij)^2", "nn.MSELoss()", False),
    LossSpec("bce", "Binary cross-entropy", ops.BCE,
             "L = mean_ij [-y log s(z) - (1-y) log(1 - s(z))], s the sigmoid (applied inside the loss)",
             "nn.BCEWithLogitsLoss()", True),
])
get = LOSSES.get
names = LOSSES.ids
