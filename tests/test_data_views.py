"""Config validation, per-sample views, determinism, normalisation (method.md §1 item 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from saip.data import SAIPViewConfig, SAIPViewMaker, ViewDataset, denormalize, normalize, normalize_uint8
from saip.data.augment import random_resized_crop_box


def _image(seed: int = 0, size: tuple[int, int] = (70, 150)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"global_size": (250, 128)}, "global_size"),
        ({"local_size": (128, 60)}, "local_size"),
        ({"canvas_size": (200, 224)}, "canvas_size"),
        ({"mask_ratio": 1.0}, "mask_ratio"),
        ({"mask_ratio": 0.0}, "mask_ratio"),
        ({"global_scale": (0.0, 1.0)}, "global_scale"),
        ({"local_scale": (0.5, 0.2)}, "local_scale"),
        ({"n_local": -1}, "n_local"),
        ({"hflip_p": 1.5}, "hflip_p"),
        ({"scale_range": (0.0, 1.5)}, "scale_range"),
        ({"scale_set": ()}, "scale_set"),
        ({"canvas_background": "grass"}, "canvas_background"),
        ({"max_overlap": 1.0}, "max_overlap"),
        ({"paste_alpha": 0.0}, "paste_alpha"),
        ({"n_local": 0, "canvas_persons": ("global0", "local-1")}, "canvas_persons"),
        ({"canvas_persons": ()}, "canvas_persons"),
        ({"csr_source": "global2"}, "csr_source"),
        ({"canvas_person_height": (0.4, 1.2)}, "canvas_person_height"),
    ],
)
def test_bad_config_names_option(kwargs: dict, option: str) -> None:
    with pytest.raises(ValueError, match=option):
        SAIPViewConfig(**kwargs)


def test_config_defaults_and_derivations() -> None:
    config = SAIPViewConfig()
    assert config.crop_ratio("global") == pytest.approx((0.4, 0.6))
    assert config.crop_ratio("local") == pytest.approx((0.4, 0.6))
    assert config.scaled_views == (("global", 1), ("local", 0))
    assert SAIPViewConfig(n_local=0).scaled_views == (("global", 1), ("global", 0))
    assert SAIPViewConfig(global_size=(224, 224)).crop_ratio("global") == pytest.approx((0.8, 1.2))
    assert SAIPViewConfig.from_dict({"n_local": 2, "global_size": [128, 64]}).global_size == (128, 64)
    with pytest.raises(ValueError, match="unknown view option"):
        SAIPViewConfig.from_dict({"n_locals": 2})


def test_random_resized_crop_box_within_image_and_ratio() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        top, left, h, w = random_resized_crop_box(rng, 150, 70, (0.05, 0.8), (0.4, 0.6))
        assert top >= 0 and top + h <= 150 and left >= 0 and left + w <= 70 and h > 0 and w > 0
    # impossible ratio falls back to a centre crop
    assert random_resized_crop_box(rng, 100, 10, (0.9, 1.0), (3.0, 4.0)) == (48, 0, 3, 10)


def test_view_shapes_nondefault_and_determinism() -> None:
    config = SAIPViewConfig(global_size=(128, 64), local_size=(64, 32), n_local=3)
    maker = SAIPViewMaker(config)
    image = _image()
    views = maker(image, seed=3, epoch=1, index=5)
    assert views["global"].shape == (2, 3, 128, 64) and views["global"].dtype == torch.uint8
    assert views["local"].shape == (3, 3, 64, 32)
    same = maker(image, seed=3, epoch=1, index=5)
    assert torch.equal(views["global"], same["global"]) and torch.equal(views["local"], same["local"])
    for other in (maker(image, 4, 1, 5), maker(image, 3, 2, 5), maker(image, 3, 1, 6)):
        assert not torch.equal(views["global"], other["global"])
    # global views do not depend on the number of local crops
    fewer = SAIPViewMaker(SAIPViewConfig(global_size=(128, 64), local_size=(64, 32), n_local=0))(
        image, 3, 1, 5
    )
    assert torch.equal(fewer["global"], views["global"]) and "local" not in fewer


def test_global_views_differ_from_each_other() -> None:
    views = SAIPViewMaker(SAIPViewConfig(n_local=0))(_image(), 0, 0, 0)
    assert not torch.equal(views["global"][0], views["global"][1])


def test_set_epoch_changes_views_and_is_shared() -> None:
    dataset = ViewDataset([_image(i) for i in range(3)], SAIPViewConfig(n_local=1), seed=0)
    first = dataset[1]
    dataset.set_epoch(1)
    second = dataset[1]
    assert second["epoch"] == 1 and second["index"] == 1
    assert not torch.equal(first["global"], second["global"])
    dataset.set_epoch(0)
    assert torch.equal(dataset[1]["global"], first["global"])
    assert dataset._epoch.is_shared()


def test_normalisation_round_trip() -> None:
    config = SAIPViewConfig(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    pixels = torch.randint(0, 256, (2, 3, 3, 8, 4), dtype=torch.uint8)
    normalised = normalize_uint8(pixels, config.mean, config.std)
    assert normalised.dtype == torch.float32
    expected = normalize(pixels.float() / 255, config.mean, config.std)
    torch.testing.assert_close(normalised, expected)
    torch.testing.assert_close(denormalize(normalised, config.mean, config.std) * 255, pixels.float())


def test_no_local_crops_defaults() -> None:
    config = SAIPViewConfig(n_local=0)
    assert config.canvas_persons == ("global0", "global1")
    assert SAIPViewConfig().canvas_persons == ("global0", "local-1")
