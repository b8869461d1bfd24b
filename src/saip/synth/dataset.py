"""In-memory (no disk) torch Datasets over the synthetic world; every item is rendered on demand.

``__getitem__`` is pure: the same (seed, index) gives the same bytes in any process and order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset

from saip.synth.person_image import render_person_image
from saip.synth.scene import render_scene


class SyntheticPersonDataset(Dataset):
    """Single-person pedestrian crops: ``identities`` x ``images_per_id`` items.

    Item ``i`` shows identity ``first_identity + i // images_per_id`` (its ``i % images_per_id``-th
    image, taken by camera ``(pid + frame) % num_cameras``). Identity ids are 0-based; the Market-1501
    files written by :func:`saip.synth.writer.write_synthetic_dataset` use ``pid + 1``.

    With ``labels=True`` an item is a dict ``{"image": PIL RGB, "pid", "camid", "attributes": uint8 (A,),
    "keypoints": float32 (17, 3), "parts": uint8 (H, W), "view", "action"}``. ``labels=False`` is the
    cheap variant for pretraining: no part mask is drawn and the dict holds only ``image``, ``pid``,
    ``camid``. ``transform`` (if given) is applied to the image.
    """

    def __init__(
        self,
        identities: int = 100,
        images_per_id: int = 12,
        seed: int = 0,
        first_identity: int = 0,
        size: tuple[int, int] = (256, 128),
        num_cameras: int = 6,
        labels: bool = True,
        hard: bool = True,
        transform: Callable[[Any], Any] | None = None,
    ) -> None:
        if identities < 1 or images_per_id < 1:
            raise ValueError("identities and images_per_id must be >= 1")
        self.identities, self.images_per_id, self.seed = identities, images_per_id, seed
        self.first_identity, self.size, self.num_cameras = first_identity, tuple(size), num_cameras
        self.labels, self.hard, self.transform = labels, hard, transform

    def __len__(self) -> int:
        return self.identities * self.images_per_id

    def locate(self, index: int) -> tuple[int, int]:
        """(identity id, frame number) of item ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.first_identity + index // self.images_per_id, index % self.images_per_id

    def __getitem__(self, index: int) -> dict[str, Any]:
        pid, frame = self.locate(index)
        s = render_person_image(
            self.seed, pid, frame, self.size, self.num_cameras, labels=self.labels, hard=self.hard
        )
        image = self.transform(s.image) if self.transform is not None else s.image
        if not self.labels:
            return {"image": image, "pid": s.pid, "camid": s.camid}
        return {
            "image": image,
            "pid": s.pid,
            "camid": s.camid,
            "attributes": s.attributes,
            "keypoints": s.keypoints,
            "parts": s.parts,
            "view": s.view,
            "action": s.action,
        }


class SyntheticSceneDataset(Dataset):
    """Multi-person scenes (detection / multi-person pose / instance and part segmentation).

    Item dict: ``image`` (PIL RGB), ``camid``, ``pids`` (N,), ``boxes`` (N, 4) float32 x0 y0 x1 y1 (tight
    box of the visible mask), ``full_boxes``, ``head_boxes``, ``keypoints`` (N, 17, 3), ``instances``
    (H, W) uint8 (0 background, k + 1 person k) and ``parts`` (H, W) uint8. ``labels=False`` returns
    only the image (and camid).
    """

    def __init__(
        self,
        scenes: int = 200,
        seed: int = 0,
        size: tuple[int, int] = (384, 512),
        min_persons: int = 2,
        max_persons: int = 6,
        num_cameras: int = 6,
        first_scene: int = 0,
        labels: bool = True,
        transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.scenes, self.seed, self.size = scenes, seed, tuple(size)
        self.min_persons, self.max_persons, self.num_cameras = min_persons, max_persons, num_cameras
        self.first_scene, self.labels, self.transform = first_scene, labels, transform

    def __len__(self) -> int:
        return self.scenes

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        s = render_scene(
            self.seed, self.first_scene + index, self.size, self.min_persons, self.max_persons,
            self.num_cameras, labels=self.labels,
        )  # fmt: skip
        image = self.transform(s.image) if self.transform is not None else s.image
        if not self.labels:
            return {"image": image, "camid": s.camid}
        return {
            "image": image,
            "camid": s.camid,
            "pids": s.pids,
            "boxes": s.boxes,
            "full_boxes": s.full_boxes,
            "head_boxes": s.head_boxes,
            "keypoints": s.keypoints,
            "instances": s.instances,
            "parts": s.parts,
        }
