"""ReID metrics: hand-worked mAP/CMC, the Market-1501 junk and same-camera rules, a naive reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import saip  # noqa: F401
from saip.evaluate.datasets.market import ReidSplit
from saip.evaluate.metrics.reid import evaluate_distances
from saip.evaluate.reid import retrieval_metrics


def naive_market_eval(distmat, q_pids, g_pids, q_cams, g_cams, max_rank=10):
    """Loop-per-query reference written from the Market-1501 protocol description."""
    aps, cmc_hits = [], []
    for i in range(len(q_pids)):
        ranked = sorted(range(len(g_pids)), key=lambda j: (distmat[i][j], j))
        kept = [
            j for j in ranked if g_pids[j] != -1 and not (g_pids[j] == q_pids[i] and g_cams[j] == q_cams[i])
        ]
        good = [g_pids[j] == q_pids[i] for j in kept]
        if not any(good):
            continue
        hits, precisions = 0, []
        for rank, is_good in enumerate(good, 1):
            if is_good:
                hits += 1
                precisions.append(hits / rank)
        aps.append(sum(precisions) / len(precisions))
        first = good.index(True)
        cmc_hits.append([first < k for k in range(1, max_rank + 1)])
    cmc = np.mean(cmc_hits, axis=0)
    return 100 * float(np.mean(aps)), {k: 100 * float(cmc[k - 1]) for k in (1, 5, 10)}


def test_hand_worked_example():
    # Gallery: g0 pid1/cam1, g1 pid2/cam2, g2 pid1/cam2, g3 junk(-1)/cam3, g4 distractor(0)/cam2, g5 pid1/cam3
    g_pids = np.array([1, 2, 1, -1, 0, 1])
    g_cams = np.array([1, 2, 2, 3, 2, 3])
    q_pids, q_cams = np.array([1, 2]), np.array([1, 1])
    # Query 0 ranks g0 < g1 < g2 < g3 < g4 < g5. g0 (same id, same camera) and g3 (junk) are removed,
    # leaving g1 (miss) g2 (hit @2) g4 (miss) g5 (hit @4): AP = (1/2 + 2/4) / 2 = 0.5, first hit at rank 2.
    # Query 1 (pid 2) ranks g1 first: its only match is at rank 1, AP = 1.
    distmat = np.array([[0, 1, 2, 3, 4, 5], [5, 0, 1, 2, 3, 4]], dtype=float)
    out = evaluate_distances(distmat, q_pids, g_pids, q_cams, g_cams)
    assert out["mAP"] == pytest.approx(75.0)  # (0.5 + 1) / 2
    assert out["rank1"] == pytest.approx(50.0)  # query 1 only
    assert out["rank5"] == pytest.approx(100.0)
    assert out["num_valid_queries"] == 2


def test_same_camera_match_is_not_counted():
    # The only same-id gallery image is from the query's camera: the query has no valid match.
    distmat = np.array([[0.0, 1.0], [1.0, 0.0]])
    out = evaluate_distances(distmat, np.array([1, 2]), np.array([1, 2]), np.array([1, 1]), np.array([1, 2]))
    assert out["num_valid_queries"] == 1  # query 0 (pid 1, cam 1) is skipped
    assert out["mAP"] == pytest.approx(100.0)


def test_no_valid_query_raises():
    with pytest.raises(ValueError, match="no query"):
        evaluate_distances(np.zeros((1, 1)), np.array([1]), np.array([1]), np.array([1]), np.array([1]))


def test_matches_naive_reference_on_random_data():
    rng = np.random.default_rng(0)
    nq, ng = 40, 120
    q_pids, g_pids = rng.integers(1, 12, nq), rng.integers(-1, 12, ng)
    q_cams, g_cams = rng.integers(1, 4, nq), rng.integers(1, 4, ng)
    distmat = rng.random((nq, ng))
    out = evaluate_distances(distmat, q_pids, g_pids, q_cams, g_cams)
    m_ap, cmc = naive_market_eval(distmat, q_pids, g_pids, q_cams, g_cams)
    assert out["mAP"] == pytest.approx(m_ap)
    for k in (1, 5, 10):
        assert out[f"rank{k}"] == pytest.approx(cmc[k])


@pytest.mark.parametrize("backend", ["torch", "faiss"])
def test_cosine_retrieval_backends_agree_with_distances(backend):
    rng = np.random.default_rng(1)
    q = torch.randn(30, 8)
    g = torch.randn(90, 8)
    query = ReidSplit([], rng.integers(1, 10, 30), rng.integers(1, 4, 30))
    gallery = ReidSplit([], rng.integers(0, 10, 90), rng.integers(1, 4, 90))
    out = retrieval_metrics(q, g, query, gallery, backend=backend, chunk=7)
    qn, gn = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(g, dim=1)
    expected = evaluate_distances(
        (1 - qn @ gn.T).numpy(), query.pids, gallery.pids, query.camids, gallery.camids
    )
    assert out["mAP"] == pytest.approx(expected["mAP"], abs=1e-4)
    assert out["rank1"] == pytest.approx(expected["rank1"])
