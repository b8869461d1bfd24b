"""WebDataset tar shards: written by saip (saip.sources.shards), read back with wids
(saip.data.shard_source.ShardImageSource): same images as the folder, patterns, descriptor,
corrupt members skipped and counted, damaged shards named, DataLoader workers, the CLI."""

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
from saip.data.shard_source import ShardImageSource
from saip.errors import InputError
from saip.sources.shards import write_shards


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAIP_CACHE", str(tmp_path / "cache"))  # shard counts are cached there


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


def _members(shard: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(shard) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def test_folder_and_shards_yield_the_same_images(tmp_path: Path) -> None:
    make_folder(tmp_path / "images")
    folder = PersonImageFolder(tmp_path / "images")
    shards = write_shards(tmp_path / "images", tmp_path / "shards", max_images_per_shard=4)
    assert [p.name for p in shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    # raw members are the files' bytes, in the folder's order, each with its JSON
    images = [data for shard in shards for name, data in _members(shard) if not name.endswith(".json")]
    assert images == [p.read_bytes() for p in folder.paths]
    # the wids descriptor lists the shards with their sample counts
    descriptor = json.loads((tmp_path / "shards" / "dataset.json").read_text())
    assert [(e["url"], e["nsamples"]) for e in descriptor["shardlist"]] == [
        ("shard-000000.tar", 4),
        ("shard-000001.tar", 4),
        ("shard-000002.tar", 2),
    ]
    # read back with wids: identical decoded images, same order, random access
    source = ShardImageSource(tmp_path / "shards")
    assert len(source) == len(folder) == 10
    assert [source[i].tobytes() for i in range(10)] == [folder[i].tobytes() for i in range(10)]
    assert source[7].tobytes() == folder[7].tobytes()
    # writing is deterministic; a PersonImageFolder is packed from its files (no re-encoding)
    again = write_shards(tmp_path / "images", tmp_path / "again", max_images_per_shard=4)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in shards]
    from_dataset = write_shards(folder, tmp_path / "from_dataset", max_images_per_shard=4)
    assert [p.read_bytes() for p in from_dataset] == [p.read_bytes() for p in shards]


@pytest.mark.parametrize(
    "pattern",
    [
        "{root}/shards/shard-{{000000..000002}}.tar",
        "{root}/shards/shard-*.tar",
        "{root}/shards/shard-000000.tar,{root}/shards/shard-00000{{1,2}}.tar",
        "{root}/shards/dataset.json",
    ],
)
def test_patterns_and_descriptor_select_the_same_samples(tmp_path: Path, pattern: str) -> None:
    make_folder(tmp_path / "images")
    write_shards(tmp_path / "images", tmp_path / "shards", max_images_per_shard=4)
    reference = ShardImageSource(tmp_path / "shards")
    source = ShardImageSource(pattern.format(root=tmp_path))
    assert len(source) == 10 and all(source[i].tobytes() == reference[i].tobytes() for i in range(10))


def test_keys_have_no_dots_and_collisions_are_refused(tmp_path: Path) -> None:
    make_folder(tmp_path / "images", 3)
    write_shards(tmp_path / "images", tmp_path / "shards")
    names = [name for name, _ in _members(tmp_path / "shards" / "shard-000000.tar")]
    assert names[::2] == ["id0/img_000.png", "id1/img_001.jpg", "id2/img_002.jpg"]
    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "id0" / "img.000.jpg")
    with pytest.raises(ValueError, match="same shard key"):
        write_shards(tmp_path / "images", tmp_path / "shards2")


def _shard(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_corrupt_members_are_skipped_counted_and_recorded(tmp_path: Path, caplog) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 16), (255, 0, 0)).save(buffer, format="JPEG")
    (tmp_path / "s").mkdir()
    _shard(
        tmp_path / "s" / "a-000000.tar",
        [
            ("ok.jpg", buffer.getvalue()),
            ("broken.jpg", b"\xff\xd8\xff not a jpeg"),
            ("meta_only.json", b"{}"),
        ],
    )
    source = ShardImageSource(tmp_path / "s")
    source.record_skips_to(tmp_path / "skipped.txt")
    assert len(source) == 3
    red = np.asarray(source[1])  # broken -> meta_only -> wraps to ok
    assert red[..., 0].mean() > 200 and source.num_skipped == 2
    recorded = (tmp_path / "skipped.txt").read_text()
    assert "a-000000.tar[1]" in recorded and "a-000000.tar[2]" in recorded and "no image member" in recorded
    assert "broken" in caplog.text or "a-000000.tar[1]" in caplog.text


def test_damaged_or_missing_shards_are_named(tmp_path: Path) -> None:
    make_folder(tmp_path / "images", 4)
    write_shards(tmp_path / "images", tmp_path / "shards", max_images_per_shard=2)
    with pytest.raises(FileNotFoundError, match="no shards match"):
        ShardImageSource(str(tmp_path / "none-*.tar"))
    with pytest.raises(FileNotFoundError, match="shard-000008.tar"):
        ShardImageSource(str(tmp_path / "shards" / "shard-{000008..000009}.tar"))
    whole = (tmp_path / "shards" / "shard-000000.tar").read_bytes()
    (tmp_path / "cut-a.tar").write_bytes(whole[:3000])  # cut inside a tar header: unreadable
    with pytest.raises(InputError, match="cut-a.tar is not a readable tar shard"):
        ShardImageSource(str(tmp_path / "cut-a.tar"))
    (tmp_path / "cut-b.tar").write_bytes(whole[:1500])  # cut inside the first image: it is corrupt
    with pytest.raises(InputError, match="none of the 1 images under .*cut-b.tar could be decoded"):
        ShardImageSource(str(tmp_path / "cut-b.tar"))[0]
    (tmp_path / "bad.json").write_text('{"shards": []}')
    with pytest.raises(InputError, match="shardlist"):
        ShardImageSource(tmp_path / "bad.json")
    with pytest.raises(NotADirectoryError, match="missing"):
        write_shards(tmp_path / "missing", tmp_path / "o")
    with pytest.raises(ValueError, match="prefix"):
        write_shards([], tmp_path / "o", prefix="a b")


def test_dataloader_workers_read_every_sample_once(tmp_path: Path) -> None:
    make_folder(tmp_path / "images", 12)
    write_shards(tmp_path / "images", tmp_path / "shards", max_images_per_shard=5)  # uneven: 5, 5, 2
    source = ShardImageSource(tmp_path / "shards")
    source[0]  # an open reader must not be pickled into the workers
    loader = DataLoader(source, batch_size=None, num_workers=2, collate_fn=np.asarray)
    assert [a.tobytes() for a in loader] == [np.asarray(source[i]).tobytes() for i in range(12)]


def test_dataset_source_with_metadata(tmp_path: Path) -> None:
    items = [
        {"image": np.full((16, 8, 3), 10 * i, np.uint8), "pid": np.int64(i), "x": object()} for i in range(3)
    ]
    shards = write_shards(items, tmp_path / "s", prefix="synth")
    assert [p.name for p in shards] == ["synth-000000.tar"]
    metas = [json.loads(data) for name, data in _members(shards[0]) if name.endswith(".json")]
    assert [m["pid"] for m in metas] == [0, 1, 2] and "x" not in metas[0]
    image = ShardImageSource(tmp_path / "s")[2]
    assert image.size == (8, 16) and abs(np.asarray(image).mean() - 20) < 2


def test_cli_shards(tmp_path: Path) -> None:
    make_folder(tmp_path / "images", 5)
    args = ["data", "shards", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(saip.cli.app, [*args, "--max-per-shard", "2"])
    assert result.exit_code == 0, result.output
    assert "wrote 3 shards" in result.output and len(ShardImageSource(tmp_path / "out")) == 5
    result = CliRunner().invoke(
        saip.cli.app, ["data", "shards", "--images", str(tmp_path / "no"), "--out", "o"]
    )
    assert result.exit_code == 2 and "--images" in result.output
