"""Floor 2 of the engine: the test surfaces (specs, kernels with exact gradients and Hessians,
checked minima) and the theory of quadratics (eigen-directions, stability limits)."""
from .catalog import SURFACES, BoundSurface, SurfaceSpec, bind, get, names

__all__ = ["SURFACES", "BoundSurface", "SurfaceSpec", "bind", "get", "names"]
