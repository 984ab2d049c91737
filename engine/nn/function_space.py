"""Function space: every recorded output vector of an ensemble projected to 2-D together (PCA, or
t-SNE and Isomap from scikit-learn), and how far apart the families end up (silhouette score)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..optim.registry import Registry


def _pca(Y: np.ndarray, seed: int) -> np.ndarray:
    Yc = Y - Y.mean(axis=0)
    U, S, _ = np.linalg.svd(Yc, full_matrices=False)
    out = U[:, :2] * S[:2]
    # SVD's signs are arbitrary: fix them so the picture does not flip between runs.
    return out * np.where(out[np.abs(out).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)


def _reduced(Y: np.ndarray, dims: int = 50) -> np.ndarray:
    """PCA to ``dims`` dimensions first, as the t-SNE paper does for high-dimensional data."""
    if Y.shape[1] <= dims:
        return Y
    Yc = Y - Y.mean(axis=0)
    U, S, _ = np.linalg.svd(Yc, full_matrices=False)
    return U[:, :dims] * S[:dims]


def _tsne(Y: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (Y.shape[0] - 1) / 3)))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(_reduced(Y))


def _isomap(Y: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import Isomap

    return Isomap(n_neighbors=min(10, Y.shape[0] - 1), n_components=2).fit_transform(_reduced(Y))


@dataclass(frozen=True)
class Projection:
    id: str
    name: str
    run: Callable[[np.ndarray, int], np.ndarray]
    notes: str


PROJECTIONS = Registry("projection", (
    Projection("pca", "PCA", _pca, "linear: distances along the two main axes of variation are kept"),
    Projection("tsne", "t-SNE", _tsne,
               "neighbours kept, global distances not: clusters are real, the gaps between them are not to scale"),
    Projection("isomap", "Isomap", _isomap, "distances along a neighbourhood graph of the points"),
))


def project(outputs: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """``outputs`` (N networks, T records, D) -> (N, T, 2): all N*T vectors projected together, so
    trajectories and families share one map."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim != 3 or outputs.shape[0] * outputs.shape[1] < 3:
        raise ValueError(f"outputs must be (networks, records, values) with at least 3 vectors, got {outputs.shape}")
    if not np.all(np.isfinite(outputs)):
        raise ValueError("outputs hold NaN or infinity (a diverged network): leave it out of the projection")
    N, T, D = outputs.shape
    return PROJECTIONS.get(method).run(outputs.reshape(N * T, D), seed).reshape(N, T, 2)


def separation(points: np.ndarray, families: np.ndarray) -> float:
    """The silhouette score of the families' points (1: far apart and tight, 0: overlapping)."""
    from sklearn.metrics import silhouette_score

    families = np.asarray(families)
    if len(set(families.tolist())) < 2:
        raise ValueError("a separation needs at least two families")
    return float(silhouette_score(np.asarray(points, dtype=np.float64), families))
