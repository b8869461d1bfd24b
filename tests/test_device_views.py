"""Views built on the training device (saip.data.device_views): same draws, same batch, exact resume.

The device path must reproduce the loader path's random decisions exactly (crop boxes, flips,
jitter factors and order, grayscale, blur, solarize, rescale factors, CSR masks, canvas boxes) and
its pixels up to resampling/rounding details, produce an ``SAIPBatch`` of the same layout, and keep
views a pure function of (seed, epoch, index) so training resumes exactly.
"""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter, ImageOps
from torch.utils.data import DataLoader

from saip.config import ConfigError
from saip.data import SAIPCollate, SAIPViewConfig, ViewDataset, denormalize, resize_person
from saip.data import augment as augment_module
from saip.data.device_views import (
    DecodedViewDataset,
    DeviceViewCollate,
    DeviceViewTransform,
    color,
    views_on_device,
)
from saip.data.device_views.layout import canvas_layout
from saip.data.device_views.params import draw_sample_views
from saip.data.device_views.resample import box_masks, crop_resize, paste_resized
from saip.data.multicrop import SAIPViewMaker
from saip.pretrain import Trainer, pretrain
from tests.pretrain_helpers import finish_ddp_worker, tiny_config

NO_PHOTOMETRIC = dict(
    jitter_p=0.0, grayscale_p=0.0, global_blur_p=(0.0, 0.0), local_blur_p=0.0, global_solarize_p=(0.0, 0.0)
)


def _smooth_images(n: int, size: tuple[int, int] = (256, 128), seed: int = 0) -> list[Image.Image]:
    """Low-frequency colour images in [0.15, 0.85] (no clipping by bicubic overshoot)."""
    g = torch.Generator().manual_seed(seed)
    images = []
    for _ in range(n):
        x = F.interpolate(torch.rand(1, 3, 16, 8, generator=g), size=size, mode="bilinear")[0] * 0.7 + 0.15
        images.append(Image.fromarray((x * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()))
    return images


def _device_batch(config: SAIPViewConfig, images, indices, seed: int = 0, epoch: int = 0, **kwargs):
    dataset = DecodedViewDataset(images, config, seed=seed, **kwargs)
    dataset.set_epoch(epoch)
    raw = DeviceViewCollate(config, seed=seed)([dataset[i] for i in indices])
    return DeviceViewTransform(config)(raw)


def _loader_batch(config: SAIPViewConfig, images, indices, seed: int = 0, epoch: int = 0):
    dataset = ViewDataset(images, config, seed=seed)
    dataset.set_epoch(epoch)
    return SAIPCollate(config, seed=seed)([dataset[i] for i in indices])


def _levels(a: torch.Tensor, b: torch.Tensor, config: SAIPViewConfig) -> torch.Tensor:
    """|a - b| in 8-bit levels of the un-normalised images."""
    return (denormalize(a, config.mean, config.std) - denormalize(b, config.mean, config.std)).abs() * 255


# ---------------------------------------------------------------------------------------- crops
@pytest.mark.parametrize(
    "box,size", [((5, 7, 35, 80), (64, 32)), ((3, 2, 40, 90), (32, 16)), ((0, 0, 40, 90), (256, 128))]
)
def test_crop_equals_slice_and_interpolate_and_pil_resize(box, size) -> None:
    image = torch.rand(1, 3, 90, 40, generator=torch.Generator().manual_seed(0))
    x1, y1, x2, y2 = box
    boxes = torch.tensor([box], dtype=torch.float32)
    sliced = F.interpolate(image[:, :, y1:y2, x1:x2], size=size, mode="bicubic", antialias=True)
    torch.testing.assert_close(crop_resize(image, boxes, size, clip_to_box=True), sliced, atol=1e-5, rtol=0)
    # Pillow's box semantics (pixels next to the box are read too), up to its 8-bit rounding
    pil = _smooth_images(1, (90, 40))[0]
    pixels = torch.from_numpy(np.array(pil)).permute(2, 0, 1)[None].float()
    expected = torch.from_numpy(np.array(pil.resize(size[::-1], Image.Resampling.BICUBIC, box=box)))
    expected = expected.permute(2, 0, 1)[None].float()
    for flip in (False, True):
        out = crop_resize(pixels, boxes, size, flip=torch.tensor([flip]))
        assert (out - (expected.flip(-1) if flip else expected)).abs().max() <= 1.5


def test_many_views_of_one_image_in_one_call() -> None:
    images = torch.rand(3, 3, 40, 20, generator=torch.Generator().manual_seed(1))
    boxes = torch.tensor([[0, 0, 20, 40], [2, 3, 12, 30], [5.5, 1.25, 19, 39.5]] * 2, dtype=torch.float32)
    flips = torch.tensor([False, True, False, True, False, True])
    out = crop_resize(images, boxes, (16, 8), flip=flips)  # view-major: box v·B + b from image b
    for n in range(6):
        one = crop_resize(images[n % 3 : n % 3 + 1], boxes[n : n + 1], (16, 8), flip=flips[n : n + 1])
        torch.testing.assert_close(out[n : n + 1], one, atol=1e-5, rtol=0)


def test_paste_equals_resize_person_in_the_box() -> None:
    g = torch.Generator().manual_seed(2)
    canvas, persons = torch.randn(2, 3, 64, 64, generator=g), torch.randn(2, 3, 32, 16, generator=g)
    boxes = torch.tensor([[3, 5, 20, 45], [40, 10, 64, 58]])
    out = paste_resized(canvas, persons, boxes)
    inside = box_masks(boxes[:, None], (64, 64))[:, 0]
    assert torch.equal(out[:, :, ~inside[0]][0], canvas[0][:, ~inside[0]])
    for b in range(2):
        x1, y1, x2, y2 = boxes[b].tolist()
        assert torch.equal(out[b][:, ~inside[b]], canvas[b][:, ~inside[b]])
        expected = resize_person(persons[b], (y2 - y1, x2 - x1))
        torch.testing.assert_close(out[b, :, y1:y2, x1:x2], expected, atol=1e-5, rtol=0)
    blended = paste_resized(canvas, persons, boxes, alpha=0.7)
    x1, y1, x2, y2 = boxes[0].tolist()
    torch.testing.assert_close(
        blended[0, :, y1:y2, x1:x2], 0.3 * canvas[0, :, y1:y2, x1:x2] + 0.7 * out[0, :, y1:y2, x1:x2]
    )


# ---------------------------------------------------------------------------------------- colour
def test_colour_ops_match_torchvision_per_image() -> None:
    import torchvision.transforms.v2.functional as TF

    x = torch.rand(6, 3, 20, 10, generator=torch.Generator().manual_seed(0))
    x[0, :, :2, :2] = 0.5  # grey pixels (zero chroma)
    factors = torch.tensor([0.6, 0.9, 1.0, 1.2, 1.4, 0.0])
    shifts = torch.tensor([-0.5, -0.1, 0.0, 0.05, 0.1, 0.5])
    cases = [
        (color.adjust_brightness, TF.adjust_brightness, factors),
        (color.adjust_contrast, TF.adjust_contrast, factors),
        (color.adjust_saturation, TF.adjust_saturation, factors),
        (color.adjust_hue, TF.adjust_hue, shifts),
    ]
    for ours, theirs, values in cases:
        expected = torch.stack([theirs(x[i], float(values[i])) for i in range(6)])
        torch.testing.assert_close(ours(x.clone(), values), expected, atol=2e-6, rtol=0)
    apply = torch.tensor([True, False, True, False, True, False])
    gray = color.to_grayscale(x, apply)
    torch.testing.assert_close(gray[0], TF.rgb_to_grayscale(x[0], num_output_channels=3))
    assert torch.equal(gray[1], x[1])
    solar = color.solarize(x, apply)
    torch.testing.assert_close(solar[0], TF.solarize(x[0], 128 / 255))
    assert torch.equal(solar[1], x[1])


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_blur_close_to_pillow_gaussian_blur(sigma) -> None:
    pil = _smooth_images(1, (64, 32))[0]
    expected = np.asarray(pil.filter(ImageFilter.GaussianBlur(radius=sigma)), dtype=np.float32)
    pixels = torch.from_numpy(np.array(pil)).permute(2, 0, 1)[None].float() / 255
    out = color.gaussian_blur(pixels, torch.tensor([sigma]), color.blur_radius(2.0))
    diff = np.abs(out[0].permute(1, 2, 0).numpy() * 255 - expected)
    assert diff.mean() < 0.75 and diff.max() <= 6.0  # Pillow approximates the Gaussian by box blurs


# ---------------------------------------------------------------------------------------- draws
def _spy_loader_views(monkeypatch, config: SAIPViewConfig, image: Image.Image, keys):
    """Run the loader path's views for ``keys`` = [(seed, epoch, index)] recording every decision."""
    events: list[tuple] = []
    crop_box = augment_module.random_resized_crop_box

    def record(name):
        original = getattr(augment_module.TF, name)

        def spy(img, factor):
            events.append((name, float(factor)))
            return original(img, factor)

        monkeypatch.setattr(augment_module.TF, name, spy)

    for name in ("adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue"):
        record(name)
    monkeypatch.setattr(
        augment_module,
        "random_resized_crop_box",
        lambda *a: events.append(("box", crop_box(*a))) or events[-1][1],
    )
    transpose = Image.Image.transpose
    monkeypatch.setattr(
        Image.Image, "transpose", lambda self, m: events.append(("flip",)) or transpose(self, m)
    )

    class Blur(ImageFilter.GaussianBlur):
        def __init__(self, radius):
            events.append(("blur", float(radius)))
            super().__init__(radius=radius)

    monkeypatch.setattr(ImageFilter, "GaussianBlur", Blur)
    solarize = ImageOps.solarize
    monkeypatch.setattr(
        ImageOps, "solarize", lambda img, threshold: events.append(("solarize",)) or solarize(img, threshold)
    )
    maker = SAIPViewMaker(config)
    per_view = []
    for seed, epoch, index in keys:
        views = maker(image, seed, epoch, index)
        outputs = list(views["global"]) + list(views.get("local", []))
        # split the event stream per view: each view starts with its crop box
        starts = [i for i, e in enumerate(events) if e[0] == "box"] + [len(events)]
        for v, output in enumerate(outputs):
            view_events = events[starts[v] : starts[v + 1]]
            gray = bool((output[0] == output[1]).all() and (output[1] == output[2]).all())
            per_view.append((view_events, gray))
        events.clear()
    return per_view


def test_draws_equal_the_loader_paths_decisions_and_distributions(monkeypatch) -> None:
    config = SAIPViewConfig(
        global_size=(8, 4), local_size=(8, 4), n_local=1, patch_stride=4, global_solarize_p=(0.3, 0.5)
    )
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 48, 3), dtype=np.uint8))
    keys = [(7, 2, i) for i in range(700)]  # 2100 views
    loader = _spy_loader_views(monkeypatch, config, image, keys)
    names = ("adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue")
    maker = SAIPViewMaker(config)
    draws = []
    for seed, epoch, index in keys:
        sample = draw_sample_views(maker, seed, epoch, index, image.height, image.width)
        draws += sample["global"] + sample["local"]
    assert len(draws) == len(loader) == 2100
    for d, (events, gray) in zip(draws, loader, strict=True):
        expected = [("box", d.box)] + [("flip",)] * d.flip
        if d.jitter:
            expected += [(names[op], pytest.approx(d.factors[op], abs=1e-6)) for op in d.order]
        expected += [("blur", pytest.approx(d.sigma, abs=1e-6))] * d.blur + [("solarize",)] * d.solarize
        assert events == expected
        assert gray == d.gray
    # the distributions are the configured ones (means within 4 standard errors)
    n = len(draws)

    def near(values, mean, sd):
        assert abs(float(np.mean(values)) - mean) < 4 * sd / np.sqrt(len(values))

    near([d.flip for d in draws], 0.5, 0.5)
    near([d.gray for d in draws], 0.2, 0.4)
    near([d.jitter for d in draws], 0.8, 0.4)
    jittered = [d for d in draws if d.jitter]
    near([d.factors[0] for d in jittered], 1.0, 0.8 / np.sqrt(12))  # brightness U(0.6, 1.4)
    near([d.factors[3] for d in jittered], 0.0, 0.2 / np.sqrt(12))  # hue U(-0.1, 0.1)
    near([d.order[0] for d in jittered], 1.5, np.sqrt(1.25))  # uniform random op order
    near([d.sigma for d in draws], 1.05, 1.9 / np.sqrt(12))
    local = draws[2::3]
    area = [h * w / (96 * 48) for _, _, h, w in (d.box for d in local)]
    near(area, 0.425, 0.75 / np.sqrt(12))  # local_scale U(0.05, 0.8) (integer rounding of the box)
    lo, hi = np.log(config.crop_ratio("local"))
    aspect = [np.log(w / h) for _, _, h, w in (d.box for d in local)]
    near(aspect, (lo + hi) / 2, (hi - lo) / np.sqrt(12) + 0.05)
    assert n == 2100


# ---------------------------------------------------------------------------------------- batch
def _structure(batch) -> dict:
    out = {}
    for f in fields(batch):
        value = getattr(batch, f.name)
        if isinstance(value, torch.Tensor):
            out[f.name] = (tuple(value.shape), value.dtype)
        elif isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
            out[f.name] = [(tuple(v.shape), v.dtype) for v in value]
        else:
            out[f.name] = value
    return out


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        dict(n_local=0, n_scaled=3, scale_set=(0.75, 1.25), n_distractors=1, canvas_background="color"),
        dict(global_size=(64, 32), local_size=(32, 16), n_local=2, make_csr=False, canvas_background="noise"),
    ],
    ids=["default", "no-local-distractor-color", "small-noise"],
)
def test_batch_has_the_collate_structure_draws_and_pixels(overrides) -> None:
    config = SAIPViewConfig(**overrides)
    images = _smooth_images(4, config.global_size)
    device, loader = _device_batch(config, images, range(4)), _loader_batch(config, images, range(4))
    assert _structure(device) == _structure(loader)
    for name in ("csr_mask", "csr_ids_keep", "csr_ids_restore", "canvas_boxes", "canvas_masks", "index"):
        a, b = getattr(device, name), getattr(loader, name)
        assert (a is None and b is None) or torch.equal(a, b), name
    assert torch.equal(device.canvas_distractor_boxes, loader.canvas_distractor_boxes)
    assert device.scaled_factors == loader.scaled_factors
    # same crops and photometric decisions: pixels differ by rounding / HSV quantisation only
    for name in ("global_views", "local_views", "canvas", "csr_view"):
        a, b = getattr(device, name), getattr(loader, name)
        if a is not None and a.numel():
            assert _levels(a, b, config).mean() < 2.5, name
    for a, b in zip(device.scaled_views, loader.scaled_views, strict=True):
        assert _levels(a, b, config).mean() < 2.5


def test_batch_of_one_falls_back_like_the_collate() -> None:
    config = SAIPViewConfig(
        global_size=(64, 32), local_size=(32, 16), n_local=1, canvas_size=(64, 64), n_distractors=1
    )
    images = _smooth_images(2, (64, 32))
    device, loader = _device_batch(config, images, [1]), _loader_batch(config, images, [1])
    assert _structure(device) == _structure(loader)
    assert torch.equal(device.canvas_boxes, loader.canvas_boxes)
    assert device.canvas_distractor_boxes.shape == (1, 0, 4)
    outside = ~device.canvas_masks[0].any(0)  # noise background, drawn from the same generator
    torch.testing.assert_close(device.canvas[0][:, outside], loader.canvas[0][:, outside])


def test_without_photometric_views_match_pillow_crops() -> None:
    config = SAIPViewConfig(global_size=(64, 32), local_size=(32, 16), n_local=3, **NO_PHOTOMETRIC)
    images = _smooth_images(3, (64, 32))
    device, loader = _device_batch(config, images, range(3)), _loader_batch(config, images, range(3))
    for name in ("global_views", "local_views"):
        diff = _levels(getattr(device, name), getattr(loader, name), config)
        assert diff.mean() < 0.5 and diff.max() <= 2.0, name
    # other source sizes: decoded once to decode_size; boxes mapped, so the content is the same crop
    big = _smooth_images(3, (90, 40), seed=4)
    device = _device_batch(config, big, range(3), decode_size=(64, 32))
    loader = _loader_batch(config, big, range(3))
    assert _levels(device.global_views, loader.global_views, config).mean() < 2.0


def test_constant_persons_fill_exactly_their_box_masks() -> None:
    config = SAIPViewConfig(
        global_size=(64, 32),
        local_size=(32, 16),
        n_local=1,
        n_scaled=0,
        make_csr=False,
        canvas_size=(96, 96),
        canvas_background="color",
        canvas_persons=("global0", "local0"),
        **NO_PHOTOMETRIC,
    )
    colours = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (250, 250, 10), (10, 250, 250)]
    images = [Image.new("RGB", (32, 64), c) for c in colours]
    batch = _device_batch(config, images, range(5))
    layout = canvas_layout(config, 0, 0, torch.arange(5))
    assert torch.equal(batch.canvas_boxes, layout.boxes) and torch.equal(
        batch.canvas_masks, box_masks(layout.boxes, (96, 96))
    )
    for b in range(5):
        person = batch.global_views[0, b, :, 0, 0]  # constant views: every pixel is the sample's colour
        matches = (batch.canvas[b] - person[:, None, None]).abs().amax(0) < 1e-4
        assert torch.equal(matches, batch.canvas_masks[b].any(0)), b
        for k in range(2):
            x1, y1, x2, y2 = batch.canvas_boxes[b, k].tolist()
            assert batch.canvas_masks[b, k].sum() == (x2 - x1) * (y2 - y1)
        assert not (batch.canvas_masks[b, 0] & batch.canvas_masks[b, 1]).any()  # max_overlap 0


# ---------------------------------------------------------------------------------------- determinism
def test_views_are_a_function_of_seed_epoch_index() -> None:
    config = SAIPViewConfig(global_size=(64, 32), local_size=(32, 16), n_local=2, canvas_size=(64, 64))
    images = _smooth_images(6, (64, 32))
    a, b = _device_batch(config, images, range(4)), _device_batch(config, images, range(4))
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y), f.name
    assert all(torch.equal(x, y) for x, y in zip(a.scaled_views, b.scaled_views, strict=True))
    # a sample's views do not depend on the rest of its batch
    other = _device_batch(config, images, [5, 2, 3])
    torch.testing.assert_close(other.global_views[:, 1:], a.global_views[:, 2:4], atol=1e-5, rtol=0)
    torch.testing.assert_close(other.local_views[:, 1:], a.local_views[:, 2:4], atol=1e-5, rtol=0)
    later = _device_batch(config, images, range(4), epoch=1)
    assert not torch.allclose(later.global_views, a.global_views)
    reseeded = _device_batch(config, images, range(4), seed=1)
    assert not torch.allclose(reseeded.global_views, a.global_views)


def test_dataloader_workers_do_not_change_device_batches() -> None:
    config = SAIPViewConfig(global_size=(64, 32), local_size=(32, 16), n_local=1, canvas_size=(64, 64))
    dataset = DecodedViewDataset(_smooth_images(8, (64, 32)), config, seed=3)
    dataset.set_epoch(2)
    transform = DeviceViewTransform(config)
    runs = []
    for workers in (0, 1):
        loader = DataLoader(
            dataset, batch_size=4, num_workers=workers, collate_fn=DeviceViewCollate(config, seed=3)
        )
        runs.append([transform(raw.to("cpu")) for raw in loader])
    for x, y in zip(*runs, strict=True):
        assert x.epoch == y.epoch == 2
        assert torch.equal(x.global_views, y.global_views) and torch.equal(x.canvas, y.canvas)


# ---------------------------------------------------------------------------------------- config / loop
def test_view_device_switch() -> None:
    assert views_on_device("auto", "cuda") and not views_on_device("auto", "cpu")
    assert views_on_device("device", "cpu") and not views_on_device("loader", "cuda")
    with pytest.raises(ValueError, match="view_device"):
        views_on_device("gpu", "cpu")


def test_bad_view_device_names_the_key(tmp_path) -> None:
    with pytest.raises(ConfigError, match="data.view_device"):
        tiny_config(tmp_path, "data.view_device=gpu")
    with pytest.raises(ConfigError, match="data.decode_size"):
        tiny_config(tmp_path, "data.decode_size=[64]")


def test_runs_saved_before_the_switch_resume_on_the_loader_path(tmp_path) -> None:
    from dataclasses import asdict

    from saip.config.load import resume_config

    saved = asdict(tiny_config(tmp_path))
    del saved["data"]["view_device"]
    assert resume_config(saved, []).data.view_device == "loader"
    assert resume_config(asdict(tiny_config(tmp_path)), []).data.view_device == "auto"


def _losses(run_dir):
    lines = (run_dir / "logs" / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines)]


def test_pretrain_on_the_device_path_resumes_exactly(tmp_path) -> None:
    extra = ("train.max_steps=4", "data.view_device=device")
    full = pretrain(tiny_config(tmp_path / "a", *extra), progress=False)
    cfg = tiny_config(tmp_path / "b", *extra)
    trainer = Trainer(cfg, progress=False)
    assert isinstance(trainer.dataset, DecodedViewDataset) and trainer.view_transform is not None
    trainer.train(stop_after=2)
    resumed = Trainer(cfg, resume=True, progress=False).train()
    a, b = _losses(full), _losses(resumed)
    assert [s for s, _ in a] == [s for s, _ in b] == [1, 2, 3, 4]
    assert [loss for _, loss in a] == pytest.approx([loss for _, loss in b], rel=1e-5, abs=1e-6)
    loader_path = Trainer(tiny_config(tmp_path / "c", "train.max_steps=4"), progress=False)
    assert loader_path.view_transform is None and isinstance(loader_path.collate, SAIPCollate)


# ---------------------------------------------------------------------------------------- DDP
def _device_joint_batch(cfg):
    from saip.pretrain.builder import build_source, build_view_config

    views = build_view_config(cfg)
    dataset = DecodedViewDataset(build_source(cfg), views, seed=0)
    return DeviceViewTransform(views)(DeviceViewCollate(views, seed=0)([dataset[i] for i in range(4)]))


def _device_ddp_worker(rank, world, port, tmp, out):
    import datetime
    import os

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from saip.pretrain.builder import build_method
    from tests.test_pretrain_ddp import SCHEDULE, _grads, _rows

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=120))
    torch.manual_seed(0)
    cfg = tiny_config(tmp, "data.view_device=device")
    method = build_method(cfg)
    model = DistributedDataParallel(method)  # kept alive until backward: its hooks all-reduce the grads
    result = model(_rows(_device_joint_batch(cfg), rank * 2, rank * 2 + 2), SCHEDULE)
    result.loss.backward()
    loss = result.loss.detach().clone()
    dist.all_reduce(loss)
    if rank == 0:
        torch.save({"loss": loss / world, "grads": _grads(method)}, out)
    del model, result  # the DDP reducer goes before the process group (see finish_ddp_worker)
    finish_ddp_worker()


@pytest.mark.ddp
def test_ddp_matches_single_process_on_device_views(tmp_path) -> None:
    import socket

    import torch.multiprocessing as mp

    from saip.pretrain.builder import build_method
    from tests.test_pretrain_ddp import SCHEDULE, _grads

    torch.manual_seed(0)
    cfg = tiny_config(tmp_path, "data.view_device=device")
    method = build_method(cfg)
    single = method(_device_joint_batch(cfg), SCHEDULE)
    single.loss.backward()
    reference = _grads(method)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp.pt"
    mp.spawn(_device_ddp_worker, args=(2, port, tmp_path, out), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=True)
    assert torch.allclose(ddp["loss"], single.loss.detach(), rtol=1e-4, atol=1e-5)
    assert set(ddp["grads"]) == set(reference)
    for name, grad in reference.items():
        scale = float(grad.abs().max())
        assert torch.allclose(ddp["grads"][name], grad, rtol=1e-3, atol=1e-5 * scale + 1e-8), name
