"""The activation registry: one spec per activation, keyed by lowercase id."""
from __future__ import annotations

from dataclasses import dataclass

from ..optim.registry import Registry
from . import ops


@dataclass(frozen=True)
class ActivationSpec:
    id: str
    name: str
    code: int
    formula: str
    derivative: str
    torch: str
    caption: str
    alpha: float = 0.0  # leaky slope or ELU alpha (torch's defaults)
    learned: bool = False  # PReLU: the slopes are parameters
    can_die: bool = False  # a unit can output zero for every input (dead ReLU)


ACTIVATIONS = Registry("activation", [
    ActivationSpec("identity", "Identity", ops.IDENTITY, "f(x) = x", "f'(x) = 1", "nn.Identity",
                   "No nonlinearity: a stack of linear layers is one linear map."),
    ActivationSpec("sigmoid", "Sigmoid", ops.SIGMOID, "f(x) = 1 / (1 + e^-x)", "f'(x) = f(x) (1 - f(x)) <= 1/4",
                   "nn.Sigmoid", "Squashes to (0, 1); its slope is at most 1/4, so gradients shrink layer by layer."),
    ActivationSpec("tanh", "tanh", ops.TANH, "f(x) = tanh(x)", "f'(x) = 1 - f(x)^2", "nn.Tanh",
                   "Zero-centred sigmoid with slope 1 at the origin; saturates for large |x|."),
    ActivationSpec("relu", "ReLU", ops.RELU, "f(x) = max(0, x)", "f'(x) = 1 if x > 0 else 0", "nn.ReLU",
                   "Passes positive inputs unchanged; a unit stuck below zero stops learning (dead).",
                   can_die=True),
    ActivationSpec("leaky_relu", "Leaky ReLU", ops.LEAKY_RELU, "f(x) = x if x > 0 else a x (a = 0.01)",
                   "f'(x) = 1 if x > 0 else a", "nn.LeakyReLU(0.01)",
                   "A small slope below zero keeps every unit alive.", alpha=0.01),
    ActivationSpec("prelu", "PReLU", ops.PRELU, "f(x) = x if x > 0 else a x (a learned, starts at 0.25)",
                   "f'(x) = 1 if x > 0 else a;  df/da = x if x <= 0 else 0", "nn.PReLU",
                   "Leaky ReLU whose slope is learned: one shared slope, or one per unit.", learned=True),
    ActivationSpec("elu", "ELU", ops.ELU, "f(x) = x if x > 0 else alpha (e^x - 1) (alpha = 1)",
                   "f'(x) = 1 if x > 0 else f(x) + alpha", "nn.ELU(1.0)",
                   "Smooth below zero, saturating at -alpha, so mean activations sit nearer zero.", alpha=1.0),
    ActivationSpec("softplus", "Softplus", ops.SOFTPLUS, "f(x) = log(1 + e^x)  (x above 20: x)",
                   "f'(x) = sigmoid(x)", "nn.Softplus", "A smooth ReLU."),
    ActivationSpec("gelu", "GELU", ops.GELU, "f(x) = x Phi(x) = x/2 (1 + erf(x / sqrt 2))",
                   "f'(x) = Phi(x) + x phi(x)", "nn.GELU()",
                   "Weights the input by the probability that a standard normal is below it (exact erf form)."),
])
get = ACTIVATIONS.get
names = ACTIVATIONS.ids
PRELU_INIT = 0.25  # torch's initial slope
