"""One call that exports a backbone in a format and verifies it (``saip export`` and ``saip.export``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from saip.export.onnx_export import export_onnx, verify_onnx_export
from saip.export.onnx_fp16 import convert_fp16, verify_fp16
from saip.export.onnx_quantize import quantize_int8, verify_int8
from saip.export.source import load_export_source
from saip.export.timm_export import export_timm, verify_timm_export
from saip.export.torchscript_export import export_torchscript, verify_torchscript_export
from saip.export.verify import VerifyReport

EXPORT_FORMATS = ("timm", "onnx", "torchscript")


@dataclass
class ExportResult:
    """What an export wrote and how it compared with saip's own model (max abs diff per output)."""

    format: str
    files: list[Path]
    reports: list[VerifyReport]
    usage: list[str] = field(default_factory=list)  # how to load the files

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.reports)


def default_export_dir(spec: str, alias: str, fmt: str) -> Path:
    """``RUN/export/<format>`` for a run folder, else ``exports/<alias>/<format>``."""
    return Path(spec) / "export" / fmt if Path(spec).is_dir() else Path("exports") / alias / fmt


def export_backbone(
    spec: str,
    fmt: str = "timm",
    out: str | Path | None = None,
    arch: str | None = None,
    img_size: str | tuple[int, int] | None = None,
    opset: int = 18,
    exporter: str = "auto",
    int8: bool = False,
    fp16: bool = False,
) -> ExportResult:
    """Export the backbone of ``spec`` (run folder, weight file + ``arch``, ``random:<arch>``) as
    ``fmt`` into ``out`` and verify the written files against the saip model. ``int8`` (ONNX only)
    also writes the dynamic int8 graph, checked against the fp32 one; ``fp16`` (ONNX only) the
    half-precision graph, checked against the fp32 torch model at two input sizes."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format {fmt!r}: choose from {', '.join(EXPORT_FORMATS)}")
    source = load_export_source(spec, arch=arch, img_size=img_size)
    out = Path(out) if out is not None else default_export_dir(spec, source.alias, fmt)
    name = f"{source.alias}_{source.img_size[0]}x{source.img_size[1]}"
    if fmt == "timm":
        timm_files = export_timm(source, out)
        reports = [
            verify_timm_export(source, timm_files, how)
            for how in ("pretrained_file", "checkpoint_path", "local_dir")
        ]
        return ExportResult(fmt, [timm_files.weights, timm_files.config], reports, timm_files.load_commands())
    if fmt == "onnx":
        onnx_file = export_onnx(source, out / f"{name}.onnx", opset=opset, exporter=exporter)
        usage = [
            f"exporter {onnx_file.exporter}, opset {onnx_file.opset}, input 'images' "
            + (
                "(B,3,H,W), H and W multiples of 16"
                if onnx_file.dynamic_size
                else f"(B,3,{onnx_file.img_size[0]},{onnx_file.img_size[1]})"
            )
            + f" normalised with mean={list(source.mean)} std={list(source.std)}"
        ]
        result = ExportResult(fmt, [onnx_file.path], [verify_onnx_export(source, onnx_file)], usage)
        if int8:
            int8_path = quantize_int8(onnx_file.path, onnx_file.path.with_suffix(".int8.onnx"))
            result.files.append(int8_path)
            result.reports.append(verify_int8(onnx_file.path, int8_path, onnx_file.img_size))
        if fp16:
            fp16_path = convert_fp16(onnx_file.path, onnx_file.path.with_suffix(".fp16.onnx"))
            result.files.append(fp16_path)
            result.reports.append(verify_fp16(source, onnx_file, fp16_path))
        return result
    for flag, wanted in (("--int8", int8), ("--fp16", fp16)):
        if wanted:
            raise ValueError(f"{flag} needs --format onnx")
    script = export_torchscript(source, out / f"{name}.pt")
    usage = ["torch.jit.load(path) -> (image_token, patch_grid)"]
    return ExportResult(fmt, [script.path], [verify_torchscript_export(source, script)], usage)
