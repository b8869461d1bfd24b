"""PersonImageFolder: scanning, file lists, corrupt files (method.md §1 data source)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from saip.data import CorruptImageError, PersonImageFolder, ViewDataset, as_pil, load_rgb
from saip.errors import InputError


def _save(
    path: Path, color: tuple[int, int, int], size: tuple[int, int] = (20, 40), fmt: str | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format=fmt)
    return path


def _truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (64, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="JPEG", quality=95)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


def test_recursive_scan_sorted_and_extensions(tmp_path: Path) -> None:
    _save(tmp_path / "b" / "z.jpg", (1, 2, 3))
    _save(tmp_path / "a" / "deep" / "x.PNG", (4, 5, 6), fmt="PNG")
    _save(tmp_path / "c.webp", (7, 8, 9), fmt="WEBP")
    _save(tmp_path / "d.bmp", (7, 8, 9), fmt="BMP")
    (tmp_path / "notes.txt").write_text("not an image")
    dataset = PersonImageFolder(tmp_path)
    relative = [p.relative_to(tmp_path).as_posix() for p in dataset.paths]
    assert relative == ["a/deep/x.PNG", "b/z.jpg", "c.webp", "d.bmp"]
    image = dataset[1]
    assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (20, 40)
    only_jpg = PersonImageFolder(tmp_path, extensions=("jpg",))
    assert [p.name for p in only_jpg.paths] == ["z.jpg"]


def test_empty_folder_error_names_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        PersonImageFolder(tmp_path)


def test_file_list_relative_absolute_and_missing(tmp_path: Path) -> None:
    a = _save(tmp_path / "imgs" / "a.jpg", (10, 0, 0))
    _save(tmp_path / "imgs" / "b.jpg", (0, 10, 0))
    listing = tmp_path / "train.txt"
    listing.write_text(f"# comment\nimgs/b.jpg\n\n{a}\n")
    dataset = PersonImageFolder(tmp_path, file_list=listing)
    assert dataset.paths == [tmp_path / "imgs" / "b.jpg", a]
    listing.write_text("imgs/b.jpg\nimgs/missing.jpg\n")
    with pytest.raises(FileNotFoundError, match=r"train\.txt:2.*missing\.jpg"):
        PersonImageFolder(tmp_path, file_list=listing)


def test_corrupt_files_skipped_counted_and_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _save(tmp_path / "0_good.jpg", (200, 0, 0))
    _truncated_jpeg(tmp_path / "1_truncated.jpg")
    (tmp_path / "2_empty.jpg").write_bytes(b"")
    (tmp_path / "3_text.jpg").write_text("hello, I am not a JPEG")
    _save(tmp_path / "4_good.png", (0, 0, 200), fmt="PNG")
    dataset = PersonImageFolder(tmp_path)
    assert len(dataset) == 5
    with caplog.at_level(logging.WARNING, logger="saip.data"):
        images = [dataset[i] for i in range(5)]
        again = [dataset[i] for i in range(5)]
    # corrupt index i returns the next readable image (i+1, ... modulo length)
    colors = [im.getpixel((0, 0)) for im in images]
    assert colors[0] == (200, 0, 0) and colors[4] == (0, 0, 200)
    assert colors[1] == colors[2] == colors[3] == (0, 0, 200)
    assert [im.getpixel((0, 0)) for im in again] == colors
    assert dataset.num_skipped == 3
    assert {p.name for p in dataset.skipped_files} == {"1_truncated.jpg", "2_empty.jpg", "3_text.jpg"}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in ("1_truncated.jpg", "2_empty.jpg", "3_text.jpg"):
        assert sum(name in message for message in warned) == 1  # once per file
    with pytest.raises(CorruptImageError, match="1_truncated"):
        load_rgb(tmp_path / "1_truncated.jpg")


def test_last_corrupt_wraps_and_all_corrupt_raises(tmp_path: Path) -> None:
    _save(tmp_path / "a.jpg", (9, 9, 9))
    (tmp_path / "b.jpg").write_bytes(b"")
    dataset = PersonImageFolder(tmp_path)
    assert dataset[1].getpixel((0, 0)) == (9, 9, 9)
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="could be decoded"):
        PersonImageFolder(tmp_path)[0]


def test_adapter_accepts_pil_dict_array_tensor() -> None:
    import torch

    image = Image.new("L", (8, 16), 7)
    assert as_pil(image).mode == "RGB"
    assert as_pil({"image": image, "label": 3}).size == (8, 16)
    assert as_pil(np.zeros((16, 8, 3), np.uint8)).size == (8, 16)
    assert as_pil(torch.ones(3, 16, 8)).getpixel((0, 0)) == (255, 255, 255)
    with pytest.raises(KeyError, match="image"):
        as_pil({"img": image})
    dataset = ViewDataset([{"image": Image.new("RGB", (64, 128), (1, 2, 3))}], seed=0)
    sample = dataset[0]
    assert sample["global"].shape == (2, 3, 256, 128) and sample["local"].shape == (8, 3, 128, 64)
