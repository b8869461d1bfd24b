"""Scene statistics per target dataset: how many people a multi-person scene holds and how tall.

The three multi-person benchmarks of the paper's Table III differ in what their images show:
CrowdHuman (pedestrian detection) is crowds of small, far and near people; CIHP (multiple human
parsing; Gong et al., ECCV 2018) is photos of a few people each large enough to parse into parts
(3.4 persons per image on average); Fashionpedia (part-level attribute parsing; Jia et al., ECCV
2020) is fashion and street photos of one or two people whose garments fill much of the frame. The
synthetic data mimics each so that a task's synthetic stand-in poses the task's own difficulty
(garments of 20 px in a crowd are a detection problem, not an attribute-parsing one).
"""

from __future__ import annotations

from dataclasses import dataclass

from saip.synth.scene import DEFAULT_HEIGHTS, SceneSample, render_scene


@dataclass(frozen=True)
class SceneStyle:
    """Persons per scene, their heights (fractions of the image height) and which scenes they are."""

    min_persons: int
    max_persons: int
    heights: tuple[float, float]
    index_offset: int  # scene ``i`` of this style is world scene ``index_offset + i``


def crowd_style(max_persons: int = 6) -> SceneStyle:
    """CrowdHuman-like scenes (detection, multi-person pose): 2 to ``max_persons`` people, 18-90 %."""
    return SceneStyle(min(2, max_persons), max_persons, DEFAULT_HEIGHTS, 0)


CIHP_STYLE = SceneStyle(2, 4, (0.45, 0.95), 1 << 24)
FASHIONPEDIA_STYLE = SceneStyle(1, 2, (0.7, 1.0), 2 << 24)


def render_styled_scene(
    seed: int, index: int, style: SceneStyle, size: tuple[int, int], num_cameras: int = 6
) -> SceneSample:
    """Scene ``index`` of ``style`` in world ``seed`` (a pure function of its arguments)."""
    return render_scene(
        seed,
        style.index_offset + index,
        size,
        style.min_persons,
        style.max_persons,
        num_cameras,
        heights=style.heights,
    )
