"""Scene statistics per target dataset: how many people a multi-person scene holds and how tall.

The multi-person benchmarks of the paper's Table III differ in what their images show: CrowdHuman
(pedestrian detection) is crowds of small, far and near people; Fashionpedia (part-level attribute
parsing; Jia et al., ECCV 2020) is fashion and street photos of one or two people whose garments fill
much of the frame. The synthetic pap scenes mimic the latter so that the task poses its own
difficulty (garments of 20 px in a crowd are a detection problem, not an attribute-parsing one).
Multiple human parsing (CIHP) keeps the crowd scenes: CIHP-like scenes of 2-4 persons at 45-95 % of
the image height were tried and scored worse under the quick budget (ImageNet AP^p_vol 0.8 vs 2.0 for
a random init; likely because its 192x256 training crops of the upscaled scene cut the persons and
their centres).
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


# scene indices from 2**25 on: never reached by the crowd scenes (index_offset 0), so pap scenes are new ones
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
