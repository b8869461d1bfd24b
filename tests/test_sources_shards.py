"""WebDataset-style tar shards: writing, streaming, splitting, corruption (saip.sources.shards)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader
from typer.testing import CliRunner

import saip.cli
from saip.data.folder import PersonImageFolder
from saip.sources.shards import ShardDataset, expand_shard_pattern, iter_shard_samples, write_shards


def make_folder(root: Path, n: int = 10) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        sub = root / f"id{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"img.{i:03d}.{'png' if i % 4 == 0 else 'jpg'}"
        Image.fromarray(rng.integers(0, 256, (32, 16, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_folder_and_shards_yield_the_same_samples(tmp_path: Path) -> None:
    make_folder(tmp_path / "images")
    folder = PersonImageFolder(tmp_path / "images")
    shards = write_shards(tmp_path / "images", tmp_path / "shards", max_images_per_shard=4)
    assert [p.name for p in shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    # raw members are the files' bytes, in the folder's order
    members = [m for shard in shards for _key, m in iter_shard_samples(shard)]
    assert [m.get("jpg", m.get("png")) for m in members] == [p.read_bytes() for p in folder.paths]
    assert json.loads(members[0]["json"]) == {
        "path": folder.paths[0].relative_to(tmp_path / "images").as_posix()
    }
    # decoded images are identical, in the same order
    streamed = list(ShardDataset(tmp_path / "shards"))
    assert [im.tobytes() for im in streamed] == [folder[i].tobytes() for i in range(len(folder))]
    # shard writing is deterministic
    again = write_shards(tmp_path / "images", tmp_path / "again", max_images_per_shard=4)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in shards]
    # a PersonImageFolder is packed from its files too (no re-encoding)
    from_dataset = write_shards(folder, tmp_path / "from_dataset", max_images_per_shard=4)
    assert [p.read_bytes() for p in from_dataset] == [p.read_bytes() for p in shards]


def test_keys_have_no_dots_and_collisions_are_refused(tmp_path: Path) -> None:
    make_folder(tmp_path / "images", 3)
    write_shards(tmp_path / "images", tmp_path / "shards")
    keys = [key for key, _ in iter_shard_samples(tmp_path / "shards" / "shard-000000.tar")]
    assert keys == ["id0/img_000", "id1/img_001", "id2/img_002"]
    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "id0" / "img.000.jpg")
    with pytest.raises(ValueError, match="same shard key"):
        write_shards(tmp_path / "images", tmp_path / "shards2")


def test_split_across_ranks_and_workers_is_a_partition(tmp_path: Path) -> None:
    make_folder(tmp_path / "images", 12)
    write_shards(tmp_path / "images", tmp_path / "shards", max_images_per_shard=2)  # 6 shards
    everything = [m["__key__"] for _im, m in ShardDataset(tmp_path / "shards", with_metadata=True)]
    seen = []
    for rank in range(2):
        dataset = ShardDataset(tmp_path / "shards", with_metadata=True, rank=rank, world_size=2)
        assert [p.name for p in dataset.assigned_shards(0, 1)] == [
            f"shard-00000{i}.tar" for i in (rank, rank + 2, rank + 4)
        ]
        loader = DataLoader(dataset, batch_size=None, num_workers=2, collate_fn=lambda x: x)
        seen += [meta["__key__"] for _image, meta in loader]
    assert sorted(seen) == sorted(everything) and len(seen) == 12


def test_shuffle_is_seeded_and_changes_with_epoch(tmp_path: Path) -> None:
    make_folder(tmp_path / "images", 12)
    write_shards(tmp_path / "images", tmp_path / "shards", max_images_per_shard=3)

    def keys(seed: int, epoch: int) -> list[str]:
        dataset = ShardDataset(tmp_path / "shards", shuffle_buffer=5, seed=seed, with_metadata=True)
        dataset.set_epoch(epoch)
        return [m["__key__"] for _im, m in dataset]

    ordered = [m["__key__"] for _im, m in ShardDataset(tmp_path / "shards", with_metadata=True)]
    assert keys(0, 0) == keys(0, 0) and sorted(keys(0, 0)) == sorted(ordered)
    assert keys(0, 0) != ordered and keys(0, 1) != keys(0, 0) and keys(1, 0) != keys(0, 0)


def test_corrupt_member_and_truncated_shard_are_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_folder(tmp_path / "images", 4)
    write_shards(tmp_path / "images", tmp_path / "shards", max_images_per_shard=2)
    bad = tmp_path / "shards" / "shard-000002.tar"
    with tarfile.open(bad, "w") as tar:
        for name, data in [
            ("ok.jpg", None),
            ("broken.jpg", b"\xff\xd8\xff not a jpeg"),
            ("meta_only.json", b"{}"),
        ]:
            if data is None:
                buffer = io.BytesIO()
                Image.new("RGB", (8, 16), (255, 0, 0)).save(buffer, format="JPEG")
                data = buffer.getvalue()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    truncated = tmp_path / "shards" / "shard-000003.tar"
    truncated.write_bytes((tmp_path / "shards" / "shard-000000.tar").read_bytes()[:1500])
    dataset = ShardDataset(tmp_path / "shards")
    images = list(dataset)
    assert len(images) == 4 + 1  # 4 good ones + "ok"; the shard cut inside its first member yields none
    assert dataset.num_skipped == 3
    assert any("broken" in s for s in dataset.skipped) and any("meta_only" in s for s in dataset.skipped)
    assert any(s.endswith("shard-000003.tar") for s in dataset.skipped)
    assert "shard-000003.tar" in caplog.text


def test_dataset_source_with_metadata(tmp_path: Path) -> None:
    items = [
        {
            "image": np.full((16, 8, 3), 10 * i, np.uint8),
            "pid": np.int64(i),
            "attrs": np.array([0, 1]),
            "x": object(),
        }
        for i in range(3)
    ]
    shards = write_shards(items, tmp_path / "s", prefix="synth")
    assert [p.name for p in shards] == ["synth-000000.tar"]
    pairs = list(ShardDataset(f"{tmp_path}/s/synth-{{000000..000000}}.tar", with_metadata=True))
    assert (
        [m["pid"] for _im, m in pairs] == [0, 1, 2]
        and pairs[1][1]["attrs"] == [0, 1]
        and "x" not in pairs[0][1]
    )
    assert pairs[2][0].size == (8, 16) and abs(np.asarray(pairs[2][0]).mean() - 20) < 2


def test_bad_inputs_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no shards match"):
        expand_shard_pattern(str(tmp_path / "none-*.tar"))
    with pytest.raises(FileNotFoundError, match="shard-000009.tar"):
        expand_shard_pattern(str(tmp_path / "shard-{000008..000009}.tar"))
    with pytest.raises(NotADirectoryError, match="missing"):
        write_shards(tmp_path / "missing", tmp_path / "o")
    with pytest.raises(ValueError, match="prefix"):
        write_shards([], tmp_path / "o", prefix="a b")


def test_cli_shards(tmp_path: Path) -> None:
    make_folder(tmp_path / "images", 5)
    args = ["data", "shards", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(saip.cli.app, [*args, "--max-per-shard", "2"])
    assert result.exit_code == 0, result.output
    assert "wrote 3 shards" in result.output and len(list(ShardDataset(tmp_path / "out"))) == 5
    result = CliRunner().invoke(
        saip.cli.app, ["data", "shards", "--images", str(tmp_path / "no"), "--out", "o"]
    )
    assert result.exit_code == 2 and "--images" in result.output
