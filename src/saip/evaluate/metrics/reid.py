"""Person re-identification metrics: mAP and CMC under the Market-1501 protocol.

Zheng et al., "Scalable Person Re-identification: A Benchmark", ICCV 2015 (Market-1501):
for each query, gallery images of the **same identity seen by the same camera** are ignored
(they are trivial matches), and so are **junk** images (pid ``-1``). Distractors (pid ``0``) stay
in the gallery as negatives. Queries without any remaining true match are skipped.

AP of one query is the mean, over its true matches, of the precision at the rank of that match
(the non-interpolated AP used by TransReID / torchreid / fast-reid). CMC@k is 1 when the first
true match ranks within the first k valid gallery entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

JUNK_PID = -1


@dataclass(frozen=True)
class QueryResults:
    """Per-query results of a ranking: ``ap`` (nq,), ``first_hit`` (nq,) 0-based rank of the first
    true match (``-1`` without one), ``valid`` (nq,) whether the query had any true match,
    ``last_hit`` (nq,) 0-based rank of the last (hardest) true match and ``num_rel`` (nq,) the
    number of true matches (for INP, see :mod:`saip.evaluate.metrics.retrieval`)."""

    ap: np.ndarray
    first_hit: np.ndarray
    valid: np.ndarray
    last_hit: np.ndarray | None = None
    num_rel: np.ndarray | None = None


def rank_query_results(
    order: np.ndarray,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    q_camids: np.ndarray,
    g_camids: np.ndarray,
) -> QueryResults:
    """AP and first-hit rank of each query, given the gallery ranked by similarity.

    Args:
        order: ``(nq, ng)`` gallery indices, best match first, for each query.
        q_pids, q_camids: ``(nq,)`` identity and camera of each query.
        g_pids, g_camids: ``(ng,)`` identity and camera of each gallery image.
    """
    order = np.asarray(order)
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_camids, g_camids = np.asarray(q_camids), np.asarray(g_camids)
    if order.ndim != 2 or order.shape[0] != len(q_pids) or len(q_pids) != len(q_camids):
        raise ValueError(f"order must be (n_query, n_gallery); got {order.shape} for {len(q_pids)} queries")
    if len(g_pids) != len(g_camids):
        raise ValueError(f"gallery pids ({len(g_pids)}) and camids ({len(g_camids)}) differ in length")
    ranked_pids = g_pids[order]  # (nq, ng)
    ranked_cams = g_camids[order]
    same_pid = ranked_pids == q_pids[:, None]
    removed = (same_pid & (ranked_cams == q_camids[:, None])) | (ranked_pids == JUNK_PID)
    keep = ~removed
    hits = same_pid & keep
    position = np.cumsum(keep, axis=1)  # 1-based rank among the kept entries
    n_rel = hits.sum(axis=1)
    cum_hits = np.cumsum(hits, axis=1)
    precision_at_hits = np.where(hits, cum_hits / np.maximum(position, 1), 0.0)
    valid = n_rel > 0
    ap = np.where(valid, precision_at_hits.sum(axis=1) / np.maximum(n_rel, 1), 0.0)
    first_col = np.argmax(hits, axis=1)
    rows = np.arange(len(order))
    first_hit = np.where(valid, position[rows, first_col] - 1, -1)
    last_col = hits.shape[1] - 1 - np.argmax(hits[:, ::-1], axis=1)
    last_hit = np.where(valid, position[rows, last_col] - 1, -1)
    return QueryResults(ap=ap, first_hit=first_hit, valid=valid, last_hit=last_hit, num_rel=n_rel)


def summarize(results: Sequence[QueryResults], ranks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Combine per-query results (e.g. of several query chunks) into ``{"mAP", "rank1", ...}`` in %.

    Raises ``ValueError`` when no query has a true match in the gallery.
    """
    valid = np.concatenate([r.valid for r in results])
    if not valid.any():
        raise ValueError("no query has a true match in the gallery (other camera, not junk): cannot score")
    ap = np.concatenate([r.ap for r in results])[valid]
    first_hit = np.concatenate([r.first_hit for r in results])[valid]
    out = {"mAP": float(100.0 * ap.mean())}
    for k in ranks:
        out[f"rank{k}"] = float(100.0 * (first_hit < k).mean())
    out["num_valid_queries"] = float(valid.sum())
    return out


def evaluate_distances(
    distmat: np.ndarray,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    q_camids: np.ndarray,
    g_camids: np.ndarray,
    ranks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """mAP and CMC from a full ``(nq, ng)`` distance matrix (smaller = more similar).

    Ties are broken by gallery index (stable sort), so results are deterministic.
    """
    order = np.argsort(np.asarray(distmat), axis=1, kind="stable")
    return summarize([rank_query_results(order, q_pids, g_pids, q_camids, g_camids)], ranks)
