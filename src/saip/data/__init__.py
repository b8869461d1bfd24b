"""Person-image data pipeline and SAIP view generation (method.md §1 "Inputs built per person image").

Typical use::

    from saip.data import PersonImageFolder, SAIPCollate, SAIPViewConfig, ViewDataset

    config = SAIPViewConfig()
    dataset = ViewDataset(PersonImageFolder("LUP1M/"), config, seed=0)
    loader = DataLoader(dataset, batch_size=64, shuffle=..., num_workers=8,
                        collate_fn=SAIPCollate(config, seed=0), pin_memory=True)
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for batch in loader:            # SAIPBatch
            batch = batch.to("cuda", non_blocking=True)
"""

from saip.data.batch import SAIPBatch
from saip.data.canvas import CanvasBatch, paste_persons, resize_person
from saip.data.collate import SAIPCollate
from saip.data.config import IMAGENET_MEAN, IMAGENET_STD, SAIPViewConfig
from saip.data.folder import PersonImageFolder
from saip.data.image_io import IMAGE_EXTENSIONS, CorruptImageError, as_pil, load_rgb
from saip.data.masking import PatchMask, num_masked, num_visible, random_masking
from saip.data.multicrop import SAIPViewMaker
from saip.data.normalize import denormalize, normalize, normalize_uint8
from saip.data.rescale import round_to_stride, scaled_size
from saip.data.view_dataset import ViewDataset

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_EXTENSIONS",
    "CanvasBatch",
    "CorruptImageError",
    "PatchMask",
    "PersonImageFolder",
    "SAIPBatch",
    "SAIPCollate",
    "SAIPViewConfig",
    "SAIPViewMaker",
    "ViewDataset",
    "as_pil",
    "denormalize",
    "load_rgb",
    "normalize",
    "normalize_uint8",
    "num_masked",
    "num_visible",
    "paste_persons",
    "random_masking",
    "resize_person",
    "round_to_stride",
    "scaled_size",
]
