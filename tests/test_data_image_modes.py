"""Decoding by real bit depth: 16-bit grey/RGB PNGs, palette + alpha, alpha, CMYK, EXIF orientation.

A plain ``convert("RGB")`` clips 16-bit grey to white (mean 254.6/255 measured on real 16-bit crops);
each case here writes a file with known content and checks the decoded 8-bit values.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from saip.data import PersonImageFolder, load_rgb
from saip.data.image_io import MATTE_COLOR


def _png_16bit_rgb(path: Path, pixels: np.ndarray) -> Path:
    """A 48-bit PNG written chunk by chunk (Pillow cannot write 16-bit RGB itself)."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100, 65535, 30000]], dtype=np.uint16).repeat(4, axis=0)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    rgb = np.asarray(load_rgb(tmp_path / "g16.png"))
    assert rgb.shape == (4, 4, 3)
    assert rgb[0, :, 0].tolist() == [0, 100, 255, round(30000 * 255 / 65535)]
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_16bit_rgb_png_keeps_its_colours(tmp_path: Path) -> None:
    pixels = np.zeros((4, 2, 3), dtype=np.uint16)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 65535, 30000, 0
    rgb = np.asarray(load_rgb(_png_16bit_rgb(tmp_path / "rgb16.png", pixels)))
    assert rgb.reshape(-1, 3).tolist() == [[255, round(30000 * 255 / 65535), 0]] * 8


def test_palette_with_transparency_is_composited_over_the_matte(tmp_path: Path) -> None:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((0, 0), 1)  # index 1 (green) is the transparent one
    image.info["transparency"] = 1
    image.save(tmp_path / "pal.png")
    rgb = np.asarray(load_rgb(tmp_path / "pal.png"))
    assert tuple(rgb[0, 0]) == MATTE_COLOR and tuple(rgb[1, 1]) == (255, 0, 0)


def test_rgba_half_transparent_blends_with_the_matte(tmp_path: Path) -> None:
    Image.new("RGBA", (4, 4), (255, 255, 255, 128)).save(tmp_path / "rgba.png")
    rgb = np.asarray(load_rgb(tmp_path / "rgba.png")).astype(int)
    expected = [round(255 * 128 / 255 + c * (1 - 128 / 255)) for c in MATTE_COLOR]
    assert np.abs(rgb[0, 0] - expected).max() <= 1


def test_cmyk_jpeg_decodes_to_its_rgb_colour(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)  # pure red
    rgb = np.asarray(load_rgb(tmp_path / "cmyk.jpg")).astype(int)
    assert np.abs(rgb[4, 4] - [255, 0, 0]).max() <= 8


def test_exif_rotated_jpeg_is_shown_upright(tmp_path: Path) -> None:
    stored = np.zeros((20, 40, 3), dtype=np.uint8)  # landscape as stored: left half white
    stored[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: display rotated 90° clockwise
    Image.fromarray(stored).save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    upright = np.asarray(load_rgb(tmp_path / "rot.jpg"))
    assert upright.shape == (40, 20, 3)  # portrait, as a viewer shows it
    assert upright[5, 10].mean() > 200 and upright[35, 10].mean() < 50  # stored left is now on top
    raw = np.asarray(load_rgb(tmp_path / "rot.jpg", apply_exif=False))
    assert raw.shape == (20, 40, 3)  # annotated evaluation data keeps the stored pixel frame


@pytest.mark.parametrize("mode", ["L", "LA", "1", "I;16"])
def test_the_folder_dataset_yields_8bit_rgb_for_every_mode(tmp_path: Path, mode: str) -> None:
    if mode == "I;16":
        Image.fromarray(np.full((8, 4), 65535 // 2, dtype=np.uint16)).save(tmp_path / "x.png")
        expected = 128
    else:
        Image.new(mode, (4, 8), 1 if mode == "1" else (200 if mode == "L" else (200, 255))).save(
            tmp_path / "x.png"
        )
        expected = 255 if mode == "1" else 200
    image = PersonImageFolder(tmp_path).load(0)
    assert image.mode == "RGB" and np.asarray(image).mean() == pytest.approx(expected, abs=1)
