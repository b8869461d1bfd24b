"""Text-to-image person retrieval: metrics by hand, SDM/ID losses against the equations, tokenizer,
text encoder, CUHK-PEDES/RSTPReid loaders, synthetic captions and the CLI end to end."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

import saip.cli
from saip.evaluate.budgets import BUDGETS
from saip.evaluate.datasets.pedes import PedesLayout, load_pedes, resolve_pedes_layout
from saip.evaluate.heads.sdm import id_loss, sdm_loss
from saip.evaluate.metrics.retrieval import retrieval_metrics
from saip.evaluate.text.encoder import TextEncoder
from saip.evaluate.text.tokenizer import encode_captions, train_caption_tokenizer
from saip.synth.captions import color_name, describe_image
from saip.synth.identity import make_identity
from saip.synth.writer import write_synthetic_dataset


def test_retrieval_metrics_hand_worked_three_queries_five_gallery() -> None:
    gallery = [1, 2, 1, 3, 2]
    queries = [1, 2, 3]
    orders = [
        [0, 1, 3, 4, 2],  # pid 1: true matches at ranks 1 and 5 -> AP (1/1 + 2/5)/2 = 0.7, INP 2/5
        [1, 4, 0, 2, 3],  # pid 2: ranks 1 and 2 -> AP 1, INP 2/2
        [0, 1, 2, 4, 3],  # pid 3: rank 5 -> AP 1/5, INP 1/5
    ]
    similarity = np.zeros((3, 5))
    for q, order in enumerate(orders):
        similarity[q, order] = [5.0, 4.0, 3.0, 2.0, 1.0]
    m = retrieval_metrics(similarity, queries, gallery)
    assert m["rank1"] == pytest.approx(100 * 2 / 3)
    assert m["rank5"] == pytest.approx(100.0) and m["rank10"] == pytest.approx(100.0)
    assert m["mAP"] == pytest.approx(100 * (0.7 + 1.0 + 0.2) / 3)
    assert m["mINP"] == pytest.approx(100 * (0.4 + 1.0 + 0.2) / 3)
    with pytest.raises(ValueError, match="no query"):
        retrieval_metrics(np.zeros((1, 2)), [9], [1, 2])
    with pytest.raises(ValueError, match="similarity is"):
        retrieval_metrics(np.zeros((2, 2)), [1], [1, 2])


def _naive_sdm(image: torch.Tensor, text: torch.Tensor, pids: list[int], tau: float, eps: float) -> float:
    """IRRA eqs. 4-7 written as loops: KL(p_i || q_i) for image->text and text->image, both averaged."""
    n = len(pids)

    def cos(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(a @ b / (a.norm() * b.norm()))

    total = 0.0
    for left, right in ((image, text), (text, image)):
        direction = 0.0
        for i in range(n):
            logits = [cos(left[i], right[j]) / tau for j in range(n)]
            top = max(logits)
            z = sum(math.exp(v - top) for v in logits)
            positives = sum(1 for j in range(n) if pids[j] == pids[i])
            for j in range(n):
                p = math.exp(logits[j] - top) / z
                q = (1.0 if pids[j] == pids[i] else 0.0) / positives
                direction += p * math.log(p / (q + eps))
        total += direction / n
    return total


def test_sdm_loss_matches_the_equations() -> None:
    torch.manual_seed(0)
    image, text = torch.randn(6, 8, dtype=torch.float64), torch.randn(6, 8, dtype=torch.float64)
    pids = [3, 1, 3, 2, 1, 3]
    for tau in (0.02, 0.5):
        got = float(sdm_loss(image, text, torch.tensor(pids), temperature=tau))
        assert got == pytest.approx(_naive_sdm(image, text, pids, tau, 1e-8), rel=1e-9, abs=1e-9)
    aligned = F.one_hot(torch.tensor([0, 1, 2, 3]), 8).double() * 5.0
    assert float(sdm_loss(aligned, aligned, torch.tensor([0, 1, 2, 3]))) < 1e-6  # perfect, unique ids
    with pytest.raises(ValueError, match="sdm_loss"):
        sdm_loss(image, text[:3], torch.tensor(pids))


def test_id_loss_is_the_mean_of_both_cross_entropies() -> None:
    logits_i, logits_t = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([[0.0, 3.0], [1.0, 1.0]])
    pids = torch.tensor([0, 1])
    ce = lambda row, y: -math.log(math.exp(row[y]) / sum(math.exp(v) for v in row))  # noqa: E731
    expected = 0.5 * ((ce([2, 0], 0) + ce([0, 1], 1)) / 2 + (ce([0, 3], 0) + ce([1, 1], 1)) / 2)
    assert float(id_loss(logits_i, logits_t, pids)) == pytest.approx(expected)


def test_tokenizer_and_text_encoder() -> None:
    captions = ["a man in a red coat walks", "a woman in a blue skirt stands", "red shoes and a blue bag"] * 4
    tokenizer = train_caption_tokenizer(captions)
    ids = encode_captions(tokenizer, ["A man in a RED coat", "blue"], max_length=10)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    assert ids.shape == (2, 10) and ids[:, 0].tolist() == [cls, cls]
    n0 = int((ids[0] != 0).sum())
    assert ids[0, n0 - 1] == sep and ids[0, n0:].eq(0).all()  # padded with [PAD] = 0
    assert tokenizer.token_to_id("[PAD]") == 0 and tokenizer.token_to_id("[UNK]") not in ids[0].tolist()
    long = encode_captions(tokenizer, [" ".join(captions)], max_length=8)
    assert long.shape == (1, 8) and long[0, -1] == sep and (long[0] != 0).all()
    encoder = TextEncoder(tokenizer.get_vocab_size(), 16, width=32, depth=1, heads=2, max_length=10).eval()
    out = encoder(ids)
    assert out.shape == (2, 16) and torch.isfinite(out).all()
    # padding does not change the embedding: the same caption with and without extra [PAD] columns
    assert torch.allclose(encoder(ids[:1, :n0]), out[:1], atol=1e-5)


def _write_pedes(root: Path, name: str, path_key: str, entries: list[dict]) -> Path:
    (root / "imgs" / "train").mkdir(parents=True, exist_ok=True)
    for e in entries:
        Image.new("RGB", (16, 32), (10 * e["id"], 0, 0)).save(root / "imgs" / e[path_key])
    (root / name).write_text(json.dumps(entries))
    return root


def test_pedes_loaders_read_cuhk_and_rstpreid_layouts(tmp_path) -> None:
    cuhk = _write_pedes(
        tmp_path / "CUHK-PEDES",
        "reid_raw.json",
        "file_path",
        [
            {"split": "train", "captions": ["a", "b"], "file_path": "train/1.jpg", "id": 1},
            {"split": "test", "captions": ["c"], "file_path": "train/2.jpg", "id": 2},
        ],
    )
    layout = resolve_pedes_layout(cuhk)
    assert layout.fmt == "cuhk-pedes" and layout.image_dir == cuhk / "imgs"
    splits = load_pedes(layout)
    assert [i.captions for i in splits["train"]] == [("a", "b")] and splits["test"][0].pid == 2
    rstp = _write_pedes(
        tmp_path / "RSTPReid",
        "data_captions.json",
        "img_path",
        [{"id": 7, "img_path": "train/7.jpg", "captions": ["x", "y"], "split": "val"}],
    )
    assert resolve_pedes_layout(rstp).fmt == "rstpreid"
    assert load_pedes(resolve_pedes_layout(rstp))["val"][0].path == rstp / "imgs" / "train" / "7.jpg"
    with pytest.raises(FileNotFoundError, match="no text-to-image annotation file"):
        resolve_pedes_layout(tmp_path / "nothing")


def test_pedes_loader_names_the_file_on_bad_input(tmp_path) -> None:
    root = _write_pedes(
        tmp_path / "d",
        "reid_raw.json",
        "file_path",
        [{"split": "train", "file_path": "train/1.jpg", "id": 1}],
    )
    ann = root / "reid_raw.json"
    with pytest.raises(ValueError, match=r"reid_raw\.json: entry 0 has no 'captions'"):
        load_pedes(PedesLayout(ann, root / "imgs", "cuhk-pedes"))
    ann.write_text(json.dumps([{"split": "train", "captions": ["a"], "file_path": "train/9.jpg", "id": 1}]))
    with pytest.raises(FileNotFoundError, match="image not found"):
        load_pedes(PedesLayout(ann, root / "imgs", "cuhk-pedes"))


def test_synthetic_captions_describe_the_identity() -> None:
    ident = make_identity(0, 5)
    first = describe_image(ident, "front", "walk", seed=0, frame=0)
    assert len(first) == 2 and first[0] != first[1]
    assert first == describe_image(ident, "front", "walk", seed=0, frame=0)  # pure function
    for caption in first:
        assert color_name(ident.top_color) in caption and color_name(ident.shoe_color) + " shoes" in caption
        assert " left" not in caption and " right" not in caption
    assert color_name((30, 30, 30)) == "black" and color_name((50, 90, 175)) == "blue"


def test_synthetic_t2i_layout_and_cli_end_to_end(tmp_path, monkeypatch) -> None:
    data = tmp_path / "data"
    write_synthetic_dataset(data, identities=6, images_per_id=3, seed=0, scenes=0, tasks=("t2i",))
    entries = json.loads((data / "t2i" / "reid_raw.json").read_text())
    assert {e["split"] for e in entries} == {"train", "test"} and all(
        len(e["captions"]) == 2 for e in entries
    )
    assert {e["id"] for e in entries if e["split"] == "train"}.isdisjoint(
        {e["id"] for e in entries if e["split"] == "test"}
    )
    monkeypatch.setitem(BUDGETS["quick"], "t2i", replace(BUDGETS["quick"]["t2i"], steps=3, batch_size=8))
    out = tmp_path / "out"
    args = ["eval", "t2i", "--backbone", "random:vit_tiny", "--data", str(data), "--out", str(out)]
    result = CliRunner().invoke(saip.cli.app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "results.json").read_text())["tasks"]["t2i"]["metrics"]
    assert set(metrics) >= {"rank1", "rank5", "rank10", "mAP", "mINP"}
    assert 0 <= metrics["mINP"] <= metrics["mAP"] <= 100 and metrics["rank1"] <= metrics["rank10"]
    record = json.loads((out / "t2i" / "t2i.json").read_text())
    assert len(record["train_loss"]) == 3 and (out / "t2i" / "tokenizer.json").is_file()
    assert record["protocol"] == "frozen"  # the quick budget's protocol
    finetune = CliRunner().invoke(saip.cli.app, [*args, "--protocol", "finetune"])
    assert finetune.exit_code == 0, finetune.output
    assert json.loads((out / "t2i" / "t2i.json").read_text())["protocol"] == "finetune"
    bad_data = tmp_path / "bad"
    (bad_data / "t2i" / "imgs").mkdir(parents=True)
    (bad_data / "t2i" / "reid_raw.json").write_text(json.dumps([{"split": "train", "id": 1}]))
    bad = CliRunner().invoke(
        saip.cli.app, ["eval", "t2i", "--backbone", "random:vit_tiny", "--data", str(bad_data)]
    )
    assert bad.exit_code == 2 and "reid_raw.json: entry 0 has no 'file_path'" in bad.output
