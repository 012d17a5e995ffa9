"""Where to draw each box and edge of a ``BlockGraph`` (pure geometry, no plotting).

Layered, top to bottom: a node's level is one more than its deepest input, so parallel branches
share levels; within a level boxes sit at the mean x of their inputs (barycentre), pushed apart to
at least one unit. An edge that skips levels and would cross a box (a residual skip, a DenseNet
feature reused by every later concat) runs down a lane to the right, one lane per source.
"""

from __future__ import annotations

from dataclasses import dataclass

from vizcore.architectures.blocks import BlockGraph

BOX_HALF_WIDTH = 0.45


@dataclass(frozen=True)
class EdgePath:
    """One edge as a polyline in layout units (y grows downwards by level)."""

    source: str
    target: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    routed: bool  # went round the boxes in a side lane


@dataclass(frozen=True)
class Layout:
    """Box centres (``x``, ``level``) and edge polylines."""

    positions: dict[str, tuple[float, int]]
    edges: tuple[EdgePath, ...]
    levels: int

    @property
    def x_range(self) -> tuple[float, float]:
        """Smallest and largest x used by boxes and lanes."""
        xs = [x for x, _ in self.positions.values()] + [x for e in self.edges for x in e.xs]
        return min(xs), max(xs)


def levels(graph: BlockGraph) -> dict[str, int]:
    """Longest-path level of every node (input = 0); nodes are in execution (topological) order."""
    level: dict[str, int] = {}
    for n in graph.nodes:
        preds = graph.predecessors(n.id)
        level[n.id] = 1 + max((level[p] for p in preds if p in level), default=-1)
    return level


def _place(graph: BlockGraph, level: dict[str, int]) -> dict[str, float]:
    x: dict[str, float] = {}
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    for lv in range(max(level.values()) + 1):
        ids = [n.id for n in graph.nodes if level[n.id] == lv]
        bary = {}
        for nid in ids:
            px = [x[p] for p in graph.predecessors(nid) if p in x]
            bary[nid] = sum(px) / len(px) if px else 0.0
        ids.sort(key=lambda i: (bary[i], order[i]))
        if len(ids) > 1 and len({bary[i] for i in ids}) == 1:  # siblings of one parent: spread evenly
            for k, nid in enumerate(ids):
                x[nid] = bary[nid] + k - (len(ids) - 1) / 2
            continue
        placed: list[float] = []
        for nid in ids:
            placed.append(max(bary[nid], placed[-1] + 1.0) if placed else bary[nid])
        shift = sum(bary.values()) / len(ids) - sum(placed) / len(placed)
        for nid, px in zip(ids, placed, strict=True):
            x[nid] = px + shift
    return x


def _clear(x: dict[str, float], level: dict[str, int], a: tuple[float, float],
           b: tuple[float, float], *, include_end: bool = False) -> bool:
    """No box lies on the straight segment a → b (levels strictly between; ``include_end`` also
    checks b's level, for the bend of a dog-leg)."""
    (xa, la), (xb, lb) = a, b
    for n, lv in level.items():
        if la < lv < lb or (include_end and lv == lb and lb > la):
            at = xa + (xb - xa) * (lv - la) / (lb - la)
            if abs(x[n] - at) < BOX_HALF_WIDTH + 0.05:
                return False
    return True


def layout(graph: BlockGraph) -> Layout:
    """Positions for every node and a polyline for every edge of ``graph``: straight when nothing is
    in the way, else down the source's column and across in the last gap, else a side lane."""
    level = levels(graph)
    x = _place(graph, level)
    right = max(x.values())
    lanes: dict[str, float] = {}
    paths = []
    for src, dst in graph.edges:
        (x0, l0), (x1, l1) = (x[src], level[src]), (x[dst], level[dst])
        if _clear(x, level, (x0, l0), (x1, l1)):
            paths.append(EdgePath(src, dst, (x0, x1), (l0, l1), False))
        elif _clear(x, level, (x0, l0), (x0, l1 - 1), include_end=True):
            paths.append(EdgePath(src, dst, (x0, x0, x1), (l0, l1 - 0.5, l1), False))
        else:
            lane = lanes.setdefault(src, right + 0.8 + 0.3 * len(lanes))
            paths.append(EdgePath(src, dst, (x0 + BOX_HALF_WIDTH, lane, lane, x1 + BOX_HALF_WIDTH),
                                  (l0, l0, l1, l1), True))
    return Layout({n: (x[n], level[n]) for n in x}, tuple(paths), max(level.values()) + 1)
