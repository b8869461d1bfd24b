"""Text-to-image person retrieval metrics: CMC Rank-k, mAP and mINP (the IRRA protocol).

Every caption of the test split is a query; the gallery is every test image; a gallery image is a
true match when it shows the caption's identity (Li et al., "Person Search with Natural Language
Description", CVPR 2017; Jiang & Ye, "Cross-Modal Implicit Relation Reasoning and Aligning for
Text-to-Image Person Retrieval", CVPR 2023). There is no camera rule: nothing is removed from the
ranking. CMC and AP come from :func:`saip.evaluate.metrics.reid.rank_query_results`; INP (Ye et
al., "Deep Learning for Person Re-identification: A Survey and Outlook", TPAMI 2021, eq. 8) is
``num_true_matches / rank_of_the_last_true_match`` (1-based), mINP its mean over the queries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from saip.evaluate.metrics.reid import rank_query_results

_QUERY_CAMERA, _GALLERY_CAMERA = 0, 1  # different cameras: the same-camera rule never applies


def retrieval_metrics(
    similarity: np.ndarray,
    query_pids: Sequence[int] | np.ndarray,
    gallery_pids: Sequence[int] | np.ndarray,
    ranks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Rank-k, mAP and mINP (in %) of queries against a gallery from a ``(nq, ng)`` similarity matrix.

    Larger similarity = better match; ties keep gallery order (stable sort). Identities may be any
    integers (they are compared for equality only). Queries without a true match are skipped;
    none at all raises ``ValueError``.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    q = np.asarray(query_pids)
    g = np.asarray(gallery_pids)
    if similarity.shape != (len(q), len(g)):
        raise ValueError(f"similarity is {similarity.shape}, expected ({len(q)}, {len(g)}) queries × gallery")
    labels = {pid: i for i, pid in enumerate(np.unique(np.concatenate([q, g])))}
    q_ids = np.array([labels[p] for p in q], dtype=np.int64)
    g_ids = np.array([labels[p] for p in g], dtype=np.int64)  # >= 0: never the junk id
    order = np.argsort(-similarity, axis=1, kind="stable")
    result = rank_query_results(
        order, q_ids, g_ids, np.full(len(q), _QUERY_CAMERA), np.full(len(g), _GALLERY_CAMERA)
    )
    valid = result.valid
    if not valid.any():
        raise ValueError("no query has a true match in the gallery: cannot score text-to-image retrieval")
    first_hit = result.first_hit[valid]
    out = {f"rank{k}": float(100.0 * (first_hit < k).mean()) for k in ranks}
    out["mAP"] = float(100.0 * result.ap[valid].mean())
    inp = result.num_rel[valid] / (result.last_hit[valid] + 1.0)
    out["mINP"] = float(100.0 * inp.mean())
    out["num_queries"] = float(valid.sum())
    return out
