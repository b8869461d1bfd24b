"""Seeing what a backbone learned: PCA of patch tokens, image-token attention, training curves.

The scale panels reproduce the SAIP paper's qualitative figures (Fig. 1 / Fig. 5); the curves
read the run folder's ``logs/metrics.jsonl``.
"""

from saip.viz.attention import attention_method, image_token_attention, upsample_maps
from saip.viz.curves import alarm_steps, plot_training_curves, read_metrics, save_training_curves
from saip.viz.panels import ScaleColumn, panel_size_px, save_figure, scale_panel
from saip.viz.pca import PCAFit, fit_pca, foreground_masks, pca_rgb, stabilize_signs
from saip.viz.render import NamedImage, default_images, input_size, load_images, render_scale_panels

__all__ = [
    "NamedImage",
    "PCAFit",
    "ScaleColumn",
    "alarm_steps",
    "attention_method",
    "default_images",
    "fit_pca",
    "foreground_masks",
    "image_token_attention",
    "input_size",
    "load_images",
    "panel_size_px",
    "pca_rgb",
    "plot_training_curves",
    "read_metrics",
    "render_scale_panels",
    "save_figure",
    "save_training_curves",
    "scale_panel",
    "stabilize_signs",
    "upsample_maps",
]
