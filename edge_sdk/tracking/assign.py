"""Linear assignment and box overlap for the tracker, numpy only (no scipy, no lap: light on a Jetson).

`linear_assignment(cost, limit)` is the minimum-cost matching of rows to columns with every pair costing
more than `limit` forbidden (ByteTrack's `lap.lapjv(..., cost_limit=limit)` use). The solver is the
shortest augmenting path algorithm (Jonker-Volgenant / Crouse 2016, what scipy's `linear_sum_assignment`
runs), one row at a time with the inner scan vectorised over columns: O(rows^2 * cols) in the worst case,
tens of microseconds for the handful of tracks a camera holds. Exact: tests compare it with scipy.

The matrix is first split into the connected parts of its allowed pairs (`_components`), each solved
alone: with IoU gating most are one track and one detection, so a frame costs microseconds per object.
Forbidden pairs cost a large constant instead of infinity, so a complete matching always exists; pairs
matched at that cost are then dropped. The result maximises the number of allowed pairs first, then
minimises their cost (lapjv with a cost limit can trade one pair for a cheaper total; with IoU gating the
two agree in practice).
"""

from __future__ import annotations

import numpy as np

_FORBIDDEN = 1e6


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (N x 4, x1 y1 x2 y2) with every box in `b` (M x 4): N x M."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if a.size == 0 or b.size == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    out: np.ndarray = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out


def solve(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost complete matching of a finite cost matrix: (row indices, column indices), rows sorted."""
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {cost.shape}")
    if cost.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if not np.isfinite(cost).all():
        raise ValueError("cost must be finite (forbid pairs with a large value)")
    transposed = cost.shape[0] > cost.shape[1]
    c = cost.T if transposed else cost
    rows, cols = _augmenting_paths(c)
    if transposed:
        rows, cols = cols, rows
        order = np.argsort(rows)
        rows, cols = rows[order], cols[order]
    return rows, cols


def _augmenting_paths(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nr, nc = c.shape  # nr <= nc
    u = np.zeros(nr)
    v = np.zeros(nc)
    col4row = np.full(nr, -1, np.int64)
    row4col = np.full(nc, -1, np.int64)
    for cur in range(nr):
        shortest = np.full(nc, np.inf)
        path = np.full(nc, -1, np.int64)
        scanned_rows = np.zeros(nr, bool)
        scanned_cols = np.zeros(nc, bool)
        min_val = 0.0
        i = cur
        sink = -1
        while sink < 0:
            scanned_rows[i] = True
            reduced = min_val + c[i] - u[i] - v
            better = ~scanned_cols & (reduced < shortest)
            path[better] = i
            shortest[better] = reduced[better]
            candidates = np.where(scanned_cols, np.inf, shortest)
            lowest = float(candidates.min())
            ties = np.flatnonzero(candidates == lowest)
            free = ties[row4col[ties] < 0]
            j = int(free[0]) if free.size else int(ties[0])
            min_val = lowest
            scanned_cols[j] = True
            if row4col[j] < 0:
                sink = j
            else:
                i = int(row4col[j])
        u[cur] += min_val
        others = scanned_rows.copy()
        others[cur] = False
        u[others] += min_val - shortest[col4row[others]]
        v[scanned_cols] -= min_val - shortest[scanned_cols]
        j = sink
        while True:
            i = int(path[j])
            row4col[j] = i
            col4row[i], j = j, int(col4row[i])
            if i == cur:
                break
    rows = np.arange(nr, dtype=np.int64)
    return rows, col4row


def _components(allowed: np.ndarray) -> list[tuple[list[int], list[int]]]:
    """The connected parts of the bipartite graph of allowed pairs (rows, columns), each with an edge.

    The matching decomposes over them exactly, and with IoU gating they are tiny (mostly one track and one
    detection), so the solver runs on a few 1x1 or 2x2 problems instead of the whole matrix."""
    n, _ = allowed.shape
    row_adj = [np.flatnonzero(allowed[i]).tolist() for i in range(n)]
    col_adj: dict[int, list[int]] = {}
    for i, cols in enumerate(row_adj):
        for j in cols:
            col_adj.setdefault(j, []).append(i)
    seen_rows: set[int] = set()
    out = []
    for start in range(n):
        if start in seen_rows or not row_adj[start]:
            continue
        rows, cols, stack, seen_cols = [], [], [start], set()
        seen_rows.add(start)
        while stack:
            i = stack.pop()
            rows.append(i)
            for j in row_adj[i]:
                if j in seen_cols:
                    continue
                seen_cols.add(j)
                cols.append(j)
                for k in col_adj[j]:
                    if k not in seen_rows:
                        seen_rows.add(k)
                        stack.append(k)
        out.append((sorted(rows), sorted(cols)))
    return out


def linear_assignment(cost: np.ndarray, limit: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Matches (row, col) with cost <= `limit`, then the unmatched rows and the unmatched columns."""
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return [], list(range(n)), list(range(m))
    allowed = cost <= limit
    matches: list[tuple[int, int]] = []
    for rows_k, cols_k in _components(allowed):
        if len(rows_k) == 1 and len(cols_k) == 1:
            matches.append((rows_k[0], cols_k[0]))
            continue
        sub = np.where(allowed[np.ix_(rows_k, cols_k)], cost[np.ix_(rows_k, cols_k)], _FORBIDDEN)
        r, c = solve(sub)
        matches += [(rows_k[i], cols_k[j]) for i, j in zip(r, c) if sub[i, j] <= limit]
    matches.sort()
    used_r = {r for r, _ in matches}
    used_c = {c for _, c in matches}
    return matches, [r for r in range(n) if r not in used_r], [c for c in range(m) if c not in used_c]
