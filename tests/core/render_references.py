"""Every filter's renders of a small photo, kept to tell when a filter starts rendering the same settings otherwise.

Each filter renders a crop of the bundled astronaut (and a gray copy) at its
defaults and at a second setting with every parameter moved off its default.
``render_references/<filter>.npz`` holds its renders as 8-bit pictures, the
settings in full (so a setting added later, or a default changed, leaves the
test as it was), and the filter's revision (:func:`enhance_core.recipe.render_revision`);
``test_render_revisions.py`` renders them again and compares.

When a filter is meant to render differently, say how in
:data:`enhance_core.recipe.RENDER_CHANGES` (users loading an older recipe are
told) and run ``python -m tests.core.render_references``: it stores the renders
of new filters and of filters whose revision changed, and refuses to replace a
render that changed at the same revision.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from enhance_core.errors import EnhanceError
from enhance_core.filters.base import FilterDef
from enhance_core.filters.registry import FILTERS
from enhance_core.image import Image
from enhance_core.io.reader import read_image
from enhance_core.recipe import render_revision, upgrade_params
from enhance_core.render import render_image
from enhance_core.stack import make_item

REFERENCES = Path(__file__).with_name("render_references")
SAMPLE = Path(__file__).parents[2] / "resources" / "sample_astronaut.png"
OVERRIDES: dict[str, dict[str, Any]] = {
    "resize": {"mode": "percent", "percent": 150.0},
    "window_level": {"center": 0.4, "width": 0.5, "function": "sigmoid"},
}
"""Second settings chosen by hand where moving every parameter would make a render too large or all one tone."""
MAX_MEAN_LEVELS = 0.25
"""Largest mean difference, in 8-bit levels, that counts as the same render (other CPUs and thread counts)."""
MAX_OFF_SHARE = 0.005
"""Largest share of values more than two levels off that counts as the same render (an edge or a threshold
flipping on a few pixels)."""


@functools.cache
def pictures() -> dict[str, Image]:
    """The photos every filter renders: a colour crop with a face, flag and shadow, and its gray copy (read once:
    a render never writes into its source)."""
    pixels = read_image(SAMPLE).pixels[90:138, 220:284]
    gray = pixels @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return {"colour": Image(np.ascontiguousarray(pixels)), "gray": Image(np.ascontiguousarray(gray[..., None]))}


def second_setting(definition: FilterDef) -> dict[str, Any]:
    """Every parameter of ``definition`` moved off its default where the filter accepts it."""
    if definition.name in OVERRIDES:
        return OVERRIDES[definition.name]
    values: dict[str, Any] = {}
    for spec in definition.specs:
        if spec.kind == "bool":
            value: Any = not spec.default
        elif spec.kind == "choice":
            value = spec.choices[(spec.choices.index(spec.default) + 1) % len(spec.choices)]
        elif spec.kind == "points":
            value = [[0.0, 0.0], [0.4, 0.6], [1.0, 1.0]]
        elif spec.minimum is None or spec.maximum is None:
            continue
        else:
            span = min(spec.maximum - spec.minimum, max(abs(spec.default), 1.0) * 4)
            value = spec.default + span / 4 if spec.default + span / 4 <= spec.maximum else spec.default - span / 4
            if isinstance(spec.default, int):
                value = int(round(value))
        try:
            definition.make_params({**values, spec.name: value})
        except EnhanceError:
            continue
        values[spec.name] = value
    return values


def settings(name: str) -> dict[str, dict[str, Any]]:
    """The settings filter ``name`` renders at, in full as a recipe holds them: ``default`` and ``second``."""
    definition = FILTERS[name]
    return {setting: dataclasses.asdict(definition.make_params(params))
            for setting, params in (("default", {}), ("second", second_setting(definition)))}


def renders(name: str, chosen: dict[str, dict[str, Any]]) -> dict[str, np.ndarray]:
    """Filter ``name``'s renders at the ``chosen`` settings, by ``<picture>.<setting>``, as 8-bit pictures.

    The settings are read as a recipe's are: a setting added since they were stored takes the value that
    renders as before it existed (:func:`enhance_core.recipe.upgrade_params`).
    """
    definition = FILTERS[name]
    out = {}
    for picture, image in pictures().items():
        for setting, params in chosen.items():
            step = make_item(name, definition.make_params(upgrade_params(name, params), partial=False))
            out[f"{picture}.{setting}"] = np.round(np.clip(render_image(image, [step]).pixels, 0, 1) * 255
                                                   ).astype(np.uint8)
    return out


def difference(stored: np.ndarray, rendered: np.ndarray) -> str:
    """Empty when ``rendered`` is ``stored`` within the tolerances; else how far it is off."""
    if stored.shape != rendered.shape:
        return f"its size is {rendered.shape}, was {stored.shape}"
    off = np.abs(stored.astype(np.int16) - rendered.astype(np.int16))
    mean, share = float(off.mean()), float((off > 2).mean())
    if mean <= MAX_MEAN_LEVELS and share <= MAX_OFF_SHARE:
        return ""
    return f"mean difference {mean:.3f} levels, {share:.2%} of values more than 2 levels off, at most {off.max()}"


def stored(name: str) -> tuple[int, dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Filter ``name``'s stored revision, the settings it rendered at, and its renders by ``<picture>.<setting>``."""
    with np.load(REFERENCES / f"{name}.npz", allow_pickle=False) as data:
        return (int(data["revision"]), json.loads(str(data["settings"])),
                {key: data[key] for key in data.files if key not in ("revision", "settings")})


def changes(name: str) -> list[str]:
    """How filter ``name``'s renders at its stored settings differ from the stored ones, one line per render."""
    _, chosen, old = stored(name)
    new = renders(name, chosen)
    if set(new) != set(old):
        return [f"the stored renders are of {', '.join(sorted(old))}, not of {', '.join(sorted(new))}"]
    return [f"{key}: {off}" for key, value in new.items() if (off := difference(old[key], value))]


def update() -> list[str]:
    """Store the renders of new filters and of filters whose revision changed; return what was done, or raise
    naming a filter that renders differently at its stored revision."""
    said = []
    for name in sorted(FILTERS):
        path = REFERENCES / f"{name}.npz"
        revision = render_revision(name)
        if path.exists() and stored(name)[0] == revision:
            if changed := changes(name):
                raise SystemExit(f"{name} renders differently at revision {revision} ({changed[0]}): say how in "
                                 "enhance_core.recipe.RENDER_CHANGES, then run this again")
            continue
        REFERENCES.mkdir(exist_ok=True)
        chosen = settings(name)
        arrays: dict[str, Any] = {**renders(name, chosen), "revision": np.array(revision),
                                  "settings": np.array(json.dumps(chosen))}
        np.savez_compressed(path, **arrays)
        said.append(f"{name}: stored at revision {revision}")
    for path in sorted(REFERENCES.glob("*.npz")):
        if path.stem not in FILTERS:
            path.unlink()
            said.append(f"{path.stem}: no longer a filter, its renders removed")
    return said


if __name__ == "__main__":
    print("\n".join(update()) or "every filter renders as stored")
