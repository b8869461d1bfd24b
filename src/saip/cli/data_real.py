"""``saip data from-boxes | from-video | shards``: person crops from real sources, tar shards.

Thin layer over :mod:`saip.sources`: parses options, calls the library, prints counts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def parse_range(value: str, option: str) -> tuple[float, float]:
    """Parse ``LOW,HIGH`` (e.g. ``0.2,1.0``); errors name ``option``."""
    try:
        low, high = (float(part) for part in value.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"expected LOW,HIGH such as 0.2,1.0, got {value!r}", param_hint=option
        ) from None
    if not 0 < low <= high:
        raise typer.BadParameter(f"need 0 < LOW <= HIGH, got {value!r}", param_hint=option)
    return low, high


def _print_counts(title: str, counts: dict[str, int]) -> None:
    typer.echo(title)
    for key, value in counts.items():
        typer.echo(f"  {key:<16} {value}")


def register(data_app: typer.Typer) -> None:
    """Add ``from-boxes``, ``from-video`` and ``shards`` to the ``saip data`` group."""

    @data_app.command("from-boxes")
    def from_boxes(
        annotations: list[Path] = typer.Option(
            ...,
            "--annotations",
            help="Annotation file or folder; repeat it to pool datasets into one set: COCO, Human-Art, "
            "Fashionpedia or AI Challenger .json, CrowdHuman .odgt, .csv boxes, CIHP or MHPv2 split folder.",
        ),
        out: Path = typer.Option(
            ..., "--out", help="Output crop folder (crops, manifest.jsonl, manifest.csv, summary.json)."
        ),
        images: list[Path] | None = typer.Option(
            None,
            "--images",
            help="Folder image paths are relative to, one per --annotations in order "
            "(default: the format's image folder, else next to the annotations).",
        ),
        fmt: list[str] | None = typer.Option(
            None,
            "--format",
            help="coco | odgt | csv | aic | cihp | mhp | fashionpedia | humanart, once for all or "
            "once per --annotations (default: detected).",
        ),
        min_height: float = typer.Option(64.0, "--min-height", min=0, help="Minimum box height (px)."),
        min_visibility: float = typer.Option(
            0.0,
            "--min-visibility",
            min=0,
            max=1,
            help="Minimum visible fraction (odgt vbox/fbox, COCO/AIC keypoints).",
        ),
        max_occlusion: float | None = typer.Option(
            None, "--max-occlusion", min=0, max=1, help="Maximum occluded fraction (= 1 - min visibility)."
        ),
        aspect_range: str = typer.Option(
            "0.2,1.0", "--aspect-range", help="Allowed box width/height, LOW,HIGH."
        ),
        pad: float = typer.Option(0.1, "--pad", min=0, help="Padding per side, as a fraction of box w/h."),
        min_keypoints: int = typer.Option(
            0, "--min-keypoints", min=0, help="Minimum labelled keypoints (COCO, AIC, Human-Art)."
        ),
        min_score: float = typer.Option(
            0.0, "--min-score", min=0, help="Minimum detector score (CSV score column)."
        ),
        layout: str = typer.Option("per-image", "--layout", help="per-image (sub-folder per image) or flat."),
        dedup_iou: float = typer.Option(
            0.9,
            "--dedup-iou",
            min=0.01,
            max=1.0,
            help="Boxes on identical images (same bytes) overlapping by IoU >= this are duplicates.",
        ),
        shards: Path | None = typer.Option(
            None,
            "--shards",
            help="Also pack the kept crops into WebDataset tar shards here (saip pretrain data.shards=DIR).",
        ),
        max_per_shard: int = typer.Option(1000, "--max-per-shard", min=1, help="Crops per shard."),
        shard_prefix: str = typer.Option("shard", "--shard-prefix", help="Shard file name prefix."),
    ) -> None:
        """Crop annotated persons into a LUPerson-style folder (usable as `saip pretrain data.root=OUT`).

        Several --annotations are pooled into one set (as SAIP's HP1M): duplicates removed, one
        manifest.jsonl, crops under OUT/<dataset>/.
        """
        from saip.sources.crops import LAYOUTS, CropFilter
        from saip.sources.person_set import build_person_set, load_source

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        aspect = parse_range(aspect_range, "--aspect-range")
        if layout not in LAYOUTS:
            raise typer.BadParameter(f"use one of {', '.join(LAYOUTS)}", param_hint="--layout")
        images, fmt = images or [], fmt or []
        if len(images) not in (0, len(annotations)):
            raise typer.BadParameter(
                f"give one per --annotations ({len(annotations)}), got {len(images)}", param_hint="--images"
            )
        if len(fmt) not in (0, 1, len(annotations)):
            raise typer.BadParameter(
                f"give it once or once per --annotations ({len(annotations)}), got {len(fmt)}",
                param_hint="--format",
            )
        visibility = max(min_visibility, 1.0 - max_occlusion if max_occlusion is not None else 0.0)
        sources = []
        for index, path in enumerate(annotations):
            try:
                source = load_source(
                    path,
                    fmt[index if len(fmt) > 1 else 0] if fmt else None,
                    images[index] if images else None,
                )
            except (OSError, ValueError) as error:
                raise _fail(str(error)) from error
            boxes = source.boxes
            checks = [
                (visibility > 0, boxes.has_visibility(), "--min-visibility/--max-occlusion", "visibility"),
                (min_keypoints > 0, boxes.has_keypoints(), "--min-keypoints", "keypoint counts"),
                (min_score > 0, boxes.has_scores(), "--min-score", "scores"),
            ]
            for asked, available, option, what in checks:
                if asked and not available:
                    raise _fail(f"{option}: {path} ({boxes.format}) has no {what} for any box")
            sources.append(source)
        crop_filter = CropFilter(
            min_height=min_height,
            aspect_range=aspect,
            min_visibility=visibility,
            min_keypoints=min_keypoints,
            min_score=min_score,
        )
        try:
            report = build_person_set(
                sources,
                out,
                crop_filter,
                pad=pad,
                layout=layout,
                dedup_iou=dedup_iou,
                shards=shards,
                max_per_shard=max_per_shard,
                shard_prefix=shard_prefix,
            )
        except (OSError, ValueError) as error:
            raise _fail(str(error)) from error
        for source, info in zip(sources, report.sources, strict=True):
            typer.echo(
                f"{info['name']} ({info['format']}): {info['boxes']} person boxes in {source.boxes.path}"
            )
        _print_counts("skipped while reading:", dict(sorted(report.skipped.items())) or {"(none)": 0})
        _print_counts("duplicates removed:", dict(sorted(report.duplicates.items())) or {"(none)": 0})
        _print_counts("rejected:", dict(sorted(report.rejected.items())) or {"(none)": 0})
        typer.echo(f"images read: {report.images_read}, missing/corrupt: {len(report.bad_images)}")
        typer.echo(f"kept: {report.kept} crops in {out} (manifest: {report.manifest})")
        if report.shards:
            typer.echo(
                f"wrote {len(report.shards)} shards to {shards}: {report.shards[0].name} .. "
                f"{report.shards[-1].name} (saip pretrain data.shards={shards})"
            )

    @data_app.command("from-video")
    def from_video(
        videos: list[Path] = typer.Argument(..., help="Video files (anything OpenCV VideoCapture reads)."),
        out: Path = typer.Option(
            ..., "--out", help="Output folder: OUT/<video>_tNNNNN/<frame>.jpg + summary.json."
        ),
        every: int = typer.Option(5, "--every", min=1, help="Process one frame out of N."),
        min_height: int = typer.Option(64, "--min-height", min=1, help="Minimum detection height (px)."),
        detector: str = typer.Option(
            "auto", "--detector", help="hog (OpenCV < 5), motion (background subtraction), auto."
        ),
        max_frames: int | None = typer.Option(
            None, "--max-frames", min=1, help="Read at most N frames per video."
        ),
        min_tracklet: int = typer.Option(3, "--min-tracklet", min=1, help="Drop tracklets with fewer crops."),
        iou: float = typer.Option(0.3, "--iou", min=0, max=1, help="Tracker IoU threshold."),
        pad: float = typer.Option(0.1, "--pad", min=0, help="Padding per side, as a fraction of box w/h."),
    ) -> None:
        """Detect and track people in videos; write tracklet crops (pseudo-identities)."""
        from saip.sources.detectors import DetectorUnavailableError, create_detector
        from saip.sources.video import VideoCropConfig, extract_video_crops

        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        try:
            person_detector = create_detector(detector)
        except (DetectorUnavailableError, ValueError) as error:
            raise _fail(f"--detector: {error}") from error
        config = VideoCropConfig(
            every=every,
            max_frames=max_frames,
            min_height=min_height,
            min_tracklet_length=min_tracklet,
            iou_threshold=iou,
            pad=pad,
        )
        try:
            summary = extract_video_crops(videos, out, person_detector, config)
        except ValueError as error:
            raise _fail(str(error)) from error
        for video in summary["videos"]:  # type: ignore[union-attr]
            typer.echo(
                f"{video['video']}: {video['frames_sampled']} frames, {video['detections']} detections, "
                f"{video['tracklets_kept']}/{video['tracklets']} tracklets kept, {video['crops']} crops"
            )
        totals = summary["totals"]
        typer.echo(
            f"detector: {summary['detector']}; total {totals['crops']} crops in "  # type: ignore[index]
            f"{totals['tracklets_kept']} tracklets under {out}"  # type: ignore[index]
        )
        if summary["unreadable"]:
            raise _fail(f"unreadable videos: {', '.join(summary['unreadable'])}", code=1)  # type: ignore[arg-type]

    @data_app.command("shards")
    def shards(
        images: Path = typer.Option(..., "--images", help="Folder of images (scanned recursively)."),
        out: Path = typer.Option(..., "--out", help="Output folder for the .tar shards."),
        max_per_shard: int = typer.Option(1000, "--max-per-shard", min=1, help="Images per shard."),
        prefix: str = typer.Option("shard", "--prefix", help="Shard file name prefix."),
    ) -> None:
        """Pack an image folder into WebDataset-style tar shards (KEY.jpg + KEY.json)."""
        from saip.sources.shards import write_shards

        try:
            paths = write_shards(images, out, max_images_per_shard=max_per_shard, prefix=prefix)
        except (OSError, ValueError) as error:
            raise _fail(f"--images: {error}") from error
        typer.echo(f"wrote {len(paths)} shards to {out}: {paths[0].name} .. {paths[-1].name}")

    @data_app.command("tracklets-to-reid")
    def tracklets_to_reid(
        crops: Path = typer.Argument(
            ..., help="Output folder of `saip data from-video` (<video>_t<id>/ folders)."
        ),
        out: Path = typer.Option(..., "--out", help="Market-1501-style folder (query/, bounding_box_test/)."),
        min_crops: int = typer.Option(
            6, "--min-crops", min=4, help="Tracklets with fewer crops are skipped."
        ),
    ) -> None:
        """Make a real-pedestrian ReID probe set from video tracklets (one tracklet = one identity).

        Use it with `saip pretrain probe.data=OUT` or `saip eval reid --data OUT`.
        """
        from saip.sources.tracklet_reid import tracklets_to_market

        try:
            counts = tracklets_to_market(crops, out, min_crops=min_crops)
        except (OSError, ValueError) as error:
            raise _fail(f"CROPS {crops}: {error}") from error
        _print_counts(f"tracklets in {crops} -> Market-1501 layout in {out}", counts)
