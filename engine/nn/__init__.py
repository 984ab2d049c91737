"""Small feed-forward networks with backprop in numba, trained by the optimizer registry."""
from .layers import Activation, BatchNorm, Dense, Dropout, Highway, LayerNorm, Residual
from .network import Network, build, mlp

__all__ = ["Activation", "BatchNorm", "Dense", "Dropout", "Highway", "LayerNorm", "Network", "Residual",
           "build", "mlp"]
