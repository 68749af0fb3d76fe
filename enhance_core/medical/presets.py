"""Window presets: built-in ones per modality and the user's own, kept in a JSON file.

Built-in CT presets (center/level L and width W in Hounsfield units), from
Radiopaedia's "Windowing (CT)" article (radiopaedia.org/articles/windowing-ct),
which gives ranges for some; where it does, the middle of the range is used:

================  ======  ======  ==================================================
preset            L (HU)  W (HU)  source values
================  ======  ======  ==================================================
Brain                 40      80  W 80, L 40
Subdural              75     215  W 130-300, L 50-100 (midpoints)
Stroke                40      40  W 40, L 40 (the alternative is W 8, L 32)
Temporal bone        600    2800  W 2800, L 600
Lung                -600    1500  W 1500, L -600
Mediastinum           50     350  W 350, L 50
Soft tissue           50     400  W 400, L 50 (abdomen soft tissues)
Liver                 30     150  W 150, L 30
Bone                 400    1800  W 1800, L 400
================  ======  ======  ==================================================

Other modalities (MR, X-ray, PET) have no calibrated unit that fixed
windows could rely on; they use the header's windows, the automatic window
and the user's presets.

User presets file (UTF-8 JSON; the GUI keeps it in the user's config folder)::

    {"schema": "enhance-studio.window-presets", "version": 1,
     "presets": [{"name": "My lung", "modality": "CT", "center": -500, "width": 1400}]}

An empty ``modality`` means the preset is offered for every modality.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Iterable

from enhance_core.atomic import write_text_atomic
from enhance_core.errors import PresetError
from enhance_core.paths import exists
from enhance_core.image import Window, window_out_of_reach
from enhance_core.validation import shown

SCHEMA = "enhance-studio.window-presets"
VERSION = 1


@dataclass(frozen=True)
class WindowPreset:
    """A named window (``center`` and ``width`` in the modality's physical unit) for ``modality`` ("" = any)."""

    name: str
    center: float
    width: float
    modality: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise PresetError("a window preset needs a name")
        if not (math.isfinite(self.center) and math.isfinite(self.width)) or self.width <= 0:
            raise PresetError(f"window preset {self.name!r} needs a finite center and a width above 0, "
                              f"got center {self.center} and width {self.width}")
        beyond = window_out_of_reach(self.center, self.width)
        if beyond:
            raise PresetError(f"window preset {self.name!r}: its {beyond}, more than the window/level step takes")

    @property
    def key(self) -> str:
        """The name as :func:`preset_key` matches it (``Soft tissue`` -> ``soft_tissue``, ``Straße`` -> ``strasse``)."""
        return preset_key(self.name)

    @property
    def window(self) -> Window:
        """The preset as a :class:`~enhance_core.image.Window`."""
        return Window(float(self.center), float(self.width), self.name)


BUILTIN_PRESETS: dict[str, tuple[WindowPreset, ...]] = {
    "CT": tuple(WindowPreset(name, center, width, "CT") for name, center, width in (
        ("Brain", 40, 80),
        ("Subdural", 75, 215),
        ("Stroke", 40, 40),
        ("Temporal bone", 600, 2800),
        ("Lung", -600, 1500),
        ("Mediastinum", 50, 350),
        ("Soft tissue", 50, 400),
        ("Liver", 30, 150),
        ("Bone", 400, 1800),
    )),
}
ALIASES = {"abdomen": "soft_tissue", "lungs": "lung", "head": "brain"}


def preset_key(name: str) -> str:
    """Normalize a preset name for matching: case folded, runs of characters that are neither letters, marks nor
    digits (in any script: a Thai or Hindi vowel is a mark) as single ``_``, width and accent forms unified (NFKC: a
    name typed on a Mac matches). Keeping only a-z and 0-9 made every Japanese name ``""``: each saved one replaced
    the last, and any name found it."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    kept = "".join(character if unicodedata.category(character)[0] in "LMN" else "_" for character in folded)
    return re.sub("_+", "_", kept).strip("_")


def _older_key(name: str) -> str:
    """The key earlier versions gave a name (a-z and 0-9 only): ``sch_del`` for Schädel, as their "available" lists
    printed it and scripts may pass it; it finds a preset only when one name has it."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def builtin_presets(modality: str) -> tuple[WindowPreset, ...]:
    """Return the built-in presets of ``modality`` (``CT``...); none for modalities without any."""
    return BUILTIN_PRESETS.get(modality.upper(), ())


def presets_for(modality: str, user: Iterable[WindowPreset] = ()) -> list[WindowPreset]:
    """Return the built-in presets of ``modality`` followed by the user presets that apply to it."""
    mine = [preset for preset in user if not preset.modality or preset.modality.upper() == modality.upper()]
    return [*builtin_presets(modality), *mine]


def find_preset(name: str, modality: str, user: Iterable[WindowPreset] = ()) -> WindowPreset:
    """Return the preset called ``name`` (case and punctuation ignored) for ``modality``; user presets win.

    The name's own key is tried before its alias (a preset saved as "Abdomen" before Soft tissue); among presets of
    one key, the user's come first (the last saved first), and of those the very name (Straße before Strasse).
    A key that earlier versions listed (``sch_del``) finds a preset when one name has it.

    Raises
    ------
    PresetError
        No such preset; the message lists the available names.
    """
    candidates = presets_for(modality, user)
    builtin = list(builtin_presets(modality))
    mine = [preset for preset in candidates if preset not in builtin][::-1]
    own = preset_key(name)
    for key in dict.fromkeys(key for key in (own, ALIASES.get(own, own)) if key):
        for group in (mine, builtin):
            keyed = [preset for preset in group if preset.key == key]
            if keyed:
                return next((preset for preset in keyed if preset.name == name), keyed[0])
    older_key = _older_key(name)
    older = [preset for preset in mine + builtin if older_key and _older_key(preset.name) == older_key]
    if older and len({preset.name for preset in older}) == 1:
        return older[0]
    names = ", ".join(preset.key for preset in candidates if preset.key) or "none"
    raise PresetError(f"no window preset {name!r} for modality {modality or 'unknown'}; available: {names}")


def _preset_from_json(entry: object, path: Path, index: int) -> WindowPreset:
    """Build one preset from a JSON object, naming the file and entry on error."""
    if not isinstance(entry, dict):
        raise PresetError(f"{path}: preset {index} is not an object with name, modality, center and width")
    try:
        return WindowPreset(str(entry["name"]), float(entry["center"]), float(entry["width"]),
                            str(entry.get("modality", "") or "").upper())
    except KeyError as missing:
        raise PresetError(f"{path}: preset {index} lacks {missing}; each needs name, center and width") from None
    except (TypeError, ValueError):
        raise PresetError(f"{path}: preset {index} has a center or width that is not a number") from None
    except PresetError as error:
        raise PresetError(f"{path}: {error}") from None


def load_user_presets(path: str | PathLike[str]) -> list[WindowPreset]:
    """Return the presets saved in ``path`` (none when the file does not exist yet).

    Raises
    ------
    PresetError
        The file is unreadable, not JSON, or not a presets file; the message
        names it (fix or delete it to start afresh).
    """
    path = Path(path)
    if not exists(path, lambda reason: PresetError(f"{path}: cannot read the window presets ({reason})")):
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as error:
        raise PresetError(f"{path}: cannot read the window presets ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PresetError(f"{path}: the window presets file is not valid JSON ({error}); fix or delete it") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("presets"), list):
        raise PresetError(f"{path}: not a window presets file (expected schema {SCHEMA!r} with a 'presets' list); "
                          "fix or delete it")
    version = data.get("version")
    if version != VERSION or isinstance(version, bool):
        raise PresetError(f"{path}: window presets version {shown(version)} is not supported "
                          f"(this program reads version {VERSION})")
    return [_preset_from_json(entry, path, index) for index, entry in enumerate(data["presets"])]


def save_user_presets(path: str | PathLike[str], presets: Iterable[WindowPreset]) -> Path:
    """Write ``presets`` to ``path`` atomically (the folder is created when missing)."""
    path = Path(path)
    data = {"schema": SCHEMA, "version": VERSION,
            "presets": [{"name": p.name, "modality": p.modality, "center": p.center, "width": p.width}
                        for p in presets]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(data, indent=2))
    except OSError as error:
        raise PresetError(f"{path}: cannot save the window presets ({error.strerror or error})") from None
    return path


def add_user_preset(path: str | PathLike[str], preset: WindowPreset) -> list[WindowPreset]:
    """Add ``preset`` to the file at ``path`` (replacing one of the same name and modality); return them all.

    Raises
    ------
    PresetError
        Its name holds no letter or digit (it could not be told from another such name), or the file cannot be
        read or written.
    """
    if not preset.key:
        raise PresetError(f"window preset {preset.name!r}: give it a name with a letter or a digit")
    kept = [p for p in load_user_presets(path)
            if not (p.key == preset.key and p.modality == preset.modality)]
    kept.append(preset)
    save_user_presets(path, kept)
    return kept


def remove_user_preset(path: str | PathLike[str], name: str, modality: str = "") -> list[WindowPreset]:
    """Delete the user preset called ``name`` for ``modality`` from the file at ``path``; return those left.

    Names match as in :func:`find_preset` (case and punctuation ignored);
    built-in presets cannot be deleted.

    Raises
    ------
    PresetError
        The file holds no such preset (the message lists the saved names), or
        it cannot be read or written.
    """
    saved = load_user_presets(path)
    key, modality = preset_key(name), modality.upper()
    exact = any(p.name == name and p.modality == modality for p in saved)  # Straße goes, Strasse stays
    kept = [p for p in saved if not ((p.name == name if exact else p.key == key) and p.modality == modality)]
    if len(kept) == len(saved):
        names = ", ".join(repr(p.name) for p in saved if p.modality == modality) or "none"
        builtin = any(p.key == key for p in builtin_presets(modality))
        reason = "built-in presets cannot be deleted" if builtin else f"saved presets for this modality: {names}"
        raise PresetError(f"{Path(path)}: no saved window preset {name!r} for modality {modality or 'any'}; {reason}")
    save_user_presets(path, kept)
    return kept
