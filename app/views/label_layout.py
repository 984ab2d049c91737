"""Where the racers' labels go on the map, in screen pixels: each beside its own head, never
over another label, and as little as possible over heads, notes or off the map; a crowd of
heads gets one stacked legend beside it, in finishing order, with leader lines."""
from __future__ import annotations

import numpy as np

# Directions tried around a head, nearest-reading first: right, left, then the diagonals,
# then straight above and below (a label straight above covers its own trail less rarely).
DIRS = np.array([(1, 0), (-1, 0), (1, -1), (1, 1), (-1, -1), (-1, 1), (0, -1), (0, 1)], dtype=float)
RINGS = (1.0, 2.2, 3.6, 5.5, 8.0, 11.0, 15.0, 20.0, 27.0, 36.0)  # offsets in units of `gap`
CROWD = 4  # this many heads close together share one stacked legend
OBSTACLE_COST = 50.0  # per px² of a label over a head or note (a px of distance costs 1)
OUTSIDE_COST = 50.0  # per px² of a label outside the map


def _overlap(r: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """Overlap areas (K, M) of rectangles r (K, 4) with rects (M, 4), both (x0, y0, x1, y1)."""
    if not len(rects):
        return np.zeros((len(r), 0))
    w = np.minimum(r[:, None, 2], rects[None, :, 2]) - np.maximum(r[:, None, 0], rects[None, :, 0])
    h = np.minimum(r[:, None, 3], rects[None, :, 3]) - np.maximum(r[:, None, 1], rects[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def _outside(r: np.ndarray, bounds) -> np.ndarray:
    x0, y0, x1, y1 = bounds
    w, h = r[:, 2] - r[:, 0], r[:, 3] - r[:, 1]
    inside = (np.clip(np.minimum(r[:, 2], x1) - np.maximum(r[:, 0], x0), 0, None)
              * np.clip(np.minimum(r[:, 3], y1) - np.maximum(r[:, 1], y0), 0, None))
    return w * h - inside


def crowds(heads: np.ndarray, radius: float) -> list[list[int]]:
    """Groups of heads linked by chains of neighbours closer than ``radius``."""
    R = len(heads)
    if R == 0:
        return []
    d = np.hypot(heads[:, None, 0] - heads[None, :, 0], heads[:, None, 1] - heads[None, :, 1])
    reach = (d < radius).astype(np.int32)
    for _ in range(int(np.ceil(np.log2(R))) + 1):  # squaring doubles the chain length covered
        reach = np.minimum(reach @ reach, 1)
    first = reach.argmax(axis=1)  # each head's group named by its first member
    return [list(np.flatnonzero(first == g)) for g in np.unique(first)]


def place(heads: np.ndarray, sizes: np.ndarray, order, obstacles: np.ndarray, bounds, gap: float,
          prev: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (R, 2) of labels of ``sizes`` (R, 2) for heads (R, 2), and which
    labels sit away from their head (they need a leader line).

    ``order`` lists racers by finishing order (they are placed, and stacked, in it);
    ``obstacles`` (M, 4) are rectangles to keep clear (heads, notes, the theory box);
    ``bounds`` the map's rectangle; ``gap`` the distance from a head to its label (about a
    head's radius plus a little); ``prev`` last frame's corners, kept while still good so
    labels do not hop about as the heads move."""
    R = len(heads)
    corners = np.zeros((R, 2))
    far = np.zeros(R, dtype=bool)
    placed = np.zeros((0, 4))
    rank = {r: i for i, r in enumerate(order)}
    row_h = float(sizes[:, 1].max()) if R else 0.0
    for grp in crowds(heads, 2.5 * max(row_h, gap)):
        if len(grp) < CROWD:
            continue
        grp = sorted(grp, key=rank.__getitem__)
        tl = _place_legend(heads[grp], sizes[grp], obstacles, placed, bounds, gap, row_h)
        for k, r in enumerate(grp):
            corners[r] = tl + (0.0, k * (row_h + 2))
            far[r] = True
        placed = np.vstack([placed, [[*c, *(c + sizes[r])] for r, c in zip(grp, corners[grp])]])
    single = [r for r in order if not far[r]]
    for r in single:
        c = _place_one(heads[r], sizes[r], obstacles, placed, bounds, gap,
                       None if prev is None or len(prev) != R else prev[r])
        corners[r] = c
        placed = np.vstack([placed, [[*c, *(c + sizes[r])]]])
        near = np.array([np.clip(heads[r, 0], c[0], c[0] + sizes[r, 0]), np.clip(heads[r, 1], c[1], c[1] + sizes[r, 1])])
        far[r] = np.hypot(*(near - heads[r])) > 1.6 * gap
    return corners, far


def _cost(rects: np.ndarray, dist: np.ndarray, obstacles, placed, bounds) -> np.ndarray:
    cost = dist + OBSTACLE_COST * _overlap(rects, obstacles).sum(axis=1) + OUTSIDE_COST * _outside(rects, bounds)
    # A label over another label is never chosen while anything else is possible.
    return np.where(_overlap(rects, placed).sum(axis=1) > 0, np.inf, cost)


def _place_one(head, size, obstacles, placed, bounds, gap, prev) -> np.ndarray:
    w, h = size
    off = np.repeat(np.array(RINGS), len(DIRS)) * gap
    d = np.tile(DIRS, (len(RINGS), 1))
    diag = (d[:, 0] != 0) & (d[:, 1] != 0)
    # The label's corner nearest the head sits ``off`` away from it along the direction.
    step = np.where(diag, 0.72, 1.0)[:, None] * off[:, None] * d
    x = head[0] + step[:, 0] + np.where(d[:, 0] > 0, 0.0, np.where(d[:, 0] < 0, -w, -w / 2))
    y = head[1] + step[:, 1] + np.where(d[:, 1] > 0, 0.0, np.where(d[:, 1] < 0, -h, -h / 2))
    tl = np.column_stack([x, y])
    if prev is not None:
        tl = np.vstack([prev, tl])
    rects = np.column_stack([tl, tl + size])
    near = np.clip(head, tl, tl + size)  # the label's point nearest the head
    dist = np.hypot(*(near - head).T) + np.arange(len(tl)) * 0.01  # ties: the listed order
    cost = _cost(rects, dist, obstacles, placed, bounds)
    if prev is not None and np.isfinite(cost[0]):
        cost[0] -= 0.6 * gap  # keep last frame's place unless another is clearly better
    return tl[int(np.argmin(cost))]


def _place_legend(heads, sizes, obstacles, placed, bounds, gap, row_h) -> np.ndarray:
    """Top-left corner of a column of labels beside the crowd at ``heads``."""
    w = float(sizes[:, 0].max())
    H = len(heads) * (row_h + 2) - 2
    lo, hi = heads.min(axis=0), heads.max(axis=0)
    cy = (lo[1] + hi[1]) / 2
    cands = []
    for k in (1.0, 2.5, 4.5, 7.0):
        for ty in (cy - H / 2, lo[1] - H, hi[1], lo[1] - H / 2, hi[1] - H / 2):
            cands.append((hi[0] + k * gap, ty))
            cands.append((lo[0] - k * gap - w, ty))
        cx = (lo[0] + hi[0]) / 2 - w / 2
        cands.append((cx, lo[1] - k * gap - H))
        cands.append((cx, hi[1] + k * gap))
    tl = np.array(cands)
    rects = np.column_stack([tl, tl + (w, H)])
    # The legend must keep clear of the crowd's own heads too: they are among the obstacles.
    dist = np.hypot(*(tl + (w / 2, H / 2) - (lo + hi) / 2).T)
    return tl[int(np.argmin(_cost(rects, dist, obstacles, placed, bounds)))]
