"""Seeded mutation fuzzing of recipes: every case loads to a valid stack that renders, or fails with a typed error.

Run by hand (``tests/fuzz/test_fuzz_recipes.py`` runs a few hundred in CI)::

    python -m tests.fuzz.recipe_fuzz --cases 10000 [--seed 0] [--keep fuzz-failures] [--memory-mb 2048]

Each case starts from one of a few valid recipes (tone and spatial steps,
brush masks, a raster mask beside the file), applies one to three mutations to
the JSON tree (a value replaced by a hostile one: giant, negative, non-finite,
wrong type, deep nesting, a duplicated list; a key dropped or added) and
now and then one to the text (truncated, a byte flipped, ``NaN``, ``1e999``, a
400-digit number or thousands of brackets spliced in), writes it to a file and
loads it with :func:`enhance_core.recipe.load_recipe`. A recipe that loads is
rendered on a 24 x 32 image. Allowed outcomes: a stack that renders to finite
pixels, or an :class:`~enhance_core.errors.EnhanceError` whose message is one
line (naming the file when loading fails). Anything else (another exception, a case slower than
``--case-seconds``, memory over ``--memory-mb``) is a failure: it is printed
with its seed and, with ``--keep``, saved for replay. Exit status 1 when any
case failed.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from enhance_core.errors import EnhanceError
from enhance_core.image import Image
from enhance_core.masks import Mask, Stroke, save_mask_raster
from enhance_core.recipe import load_recipe, recipe_to_dict
from enhance_core.render import render_image
from enhance_core.stack import make_item

ROWS, COLS = 24, 32
RASTER = "base.step1.mask.png"
HOSTILE: list[Any] = [
    0, -1, 1, 2, 0.5, -0.0, 1e-320, 1e308, -1e308, 10**25, -(10**25), 2**63, 2**31, 1000, 65536,
    "", "no", "yes", "true", "false", "1", "0.5", "NaN", "gamma", "negative", "x" * 300, "../../etc/passwd",
    True, False, None, [], {}, [1, 2], [[1, 2]], {"x": 1}, ["gamma"], [None], [[0, 0]] * 3, {"points": 5},
]
PLAUSIBLE_NAMES = ["gamma", "negative", "gaussian_blur", "box_blur", "sobel", "canny", "homomorphic", "auto",
                   "manual", "luma", "rgb", RASTER]
TOKENS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 400, "1" * 5000, "[" * 3000, "{" * 3000,
          "\\ud800", "\x00", '"', ",", "]", "}", "true", "null", "0." + "0" * 500 + "1", '"\\u0000"']


def base_recipes() -> list[dict]:
    """Valid recipes for a ROWS x COLS image (the first uses a raster mask named :data:`RASTER`)."""
    painted = Mask(ROWS, COLS, feather=1.5).with_stroke(
        Stroke(((2.0, 3.0), (20.0, 15.0), (30.0, 2.5)), radius=3.0, hardness=0.4, opacity=0.8)).with_stroke(
        Stroke(((10.0, 10.0),), radius=2.0, erase=True))
    raster = np.linspace(0, 1, ROWS * COLS, dtype=np.float32).reshape(ROWS, COLS)
    with_raster = Mask(ROWS, COLS, raster=raster).with_stroke(Stroke(((5.0, 5.0), (9.0, 12.0)), radius=2.5))
    recipes = [
        (make_item("gaussian_blur", {"sigma": 1.5}, mask=with_raster), make_item("gamma", {"gamma": 0.8})),
        (make_item("levels", {"black": 0.05, "white": 0.9}, opacity=0.5), make_item("negative", mask=painted),
         make_item("unsharp_mask")),
        (make_item("median_blur", {"size": 3}), make_item("clahe"), make_item("color_balance", enabled=False)),
        (make_item("bilateral"), make_item("threshold"), make_item("fft_lowpass")),
    ]
    names = [[RASTER, None]] + [None] * (len(recipes) - 1)
    return [recipe_to_dict(steps, raster_names=raster) for steps, raster in zip(recipes, names)]


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys and indices) into ``node``, the root included."""
    found = [path]
    if len(path) > 30:
        return found
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node[:50]):
            found += _paths(value, path + (index,))
    return found


def _hostile(rng: random.Random, old: Any) -> Any:
    """A replacement for ``old``: a hostile constant, a type swap, deep nesting or a long list."""
    choice = rng.random()
    if choice < 0.5:
        return _plausible(rng, old)
    if choice < 0.55:
        return copy.deepcopy(rng.choice(HOSTILE))
    if choice < 0.7:
        return str(old) if not isinstance(old, str) else rng.choice([len(old), [old], {old: old}])
    if choice < 0.8:
        nested: Any = old
        for _ in range(rng.choice([2, 50])):
            nested = [nested]
        return nested
    if choice < 0.9 and isinstance(old, list):
        return old * rng.choice([2, 10, 60, 400])
    return -old if isinstance(old, (int, float)) and not isinstance(old, bool) else rng.uniform(-1e6, 1e6)


def _plausible(rng: random.Random, old: Any) -> Any:
    """A value of the same kind as ``old`` that may well be valid (so that more cases load and render)."""
    if isinstance(old, bool):
        return not old
    if isinstance(old, int):
        return rng.randint(0, 12)
    if isinstance(old, float):
        return rng.choice([rng.uniform(0.0, 1.0), rng.uniform(0.0, 40.0), 0.0, 1.0])
    if isinstance(old, str):
        return rng.choice(PLAUSIBLE_NAMES)
    return old


def mutate_tree(data: dict, rng: random.Random) -> dict:
    """Apply one random mutation to a copy of ``data``."""
    data = copy.deepcopy(data)
    path = rng.choice(_paths(data))
    if not path:
        return _hostile(rng, data) if rng.random() < 0.2 else {**data, rng.choice(["extra", "Steps"]): 1}
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = rng.random()
    if action < 0.7:
        parent[key] = _hostile(rng, parent[key])
    elif action < 0.85:
        del parent[key]
    elif isinstance(parent, dict):
        parent[rng.choice(["unknown", "erase", "radius", "filter", "mask", "__proto__"])] = rng.choice(HOSTILE)
    else:
        parent.insert(key, copy.deepcopy(rng.choice(parent)))
    return data


def mutate_text(text: str, rng: random.Random) -> str:
    """Apply one random byte-level mutation to the JSON text."""
    at = rng.randrange(len(text) + 1)
    action = rng.random()
    if action < 0.2:
        return text[:at]
    if action < 0.4:
        return text[:at] + chr(rng.randrange(32, 127)) + text[at + 1:]
    if action < 0.8:
        return text[:at] + rng.choice(TOKENS) + text[at:]
    end = min(len(text), at + rng.randrange(1, 200))
    return text[:at] + text[at:end] * rng.choice([2, 20]) + text[end:]


def make_case(seed: int, bases: list[dict]) -> str:
    """The JSON text of case ``seed``."""
    rng = random.Random(seed)
    data: Any = rng.choice(bases)
    for _ in range(rng.choice([1, 1, 2, 3])):
        data = mutate_tree(data, rng) if isinstance(data, dict) else data
    text = json.dumps(data)
    if rng.random() < 0.15:
        text = mutate_text(text, rng)
    return text


def run_case(text: str, path: Path, image: Image) -> tuple[str, str]:
    """Write ``text`` to ``path``, load and render it; return (outcome, detail), outcome "ok", "refused" or "FAIL"."""
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    stage = "load"
    try:
        steps = load_recipe(path)
        stage = "render"
        pixels = render_image(image, steps).pixels
        if pixels.shape[:2] != (ROWS, COLS) or not np.isfinite(pixels).all():
            return "FAIL", f"rendered {pixels.shape} with non-finite values"
        return "ok", f"{len(steps)} steps"
    except EnhanceError as error:
        message = str(error)
        if "\n" in message or (stage == "load" and str(path) not in message):
            return "FAIL", f"{stage} error not one line{' naming the file' * (stage == 'load')}: {message[:300]!r}"
        return "refused", f"{stage}: " + message.replace(str(path), "<recipe>")[:70]
    except Exception as error:  # noqa: BLE001 - the fuzzer reports every untyped failure
        return "FAIL", f"{stage}: {type(error).__name__}: {str(error)[:300]}"
    finally:
        path.unlink()


class _Slow(BaseException):
    """Raised by the alarm when a case runs too long."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Slow


def main(argv: list[str] | None = None) -> int:
    """Run the cases; print failures and a summary; return 1 when any case failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="number of cases (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="first case's seed; cases use seed, seed+1, ...")
    parser.add_argument("--case-seconds", type=int, default=20, help="a case slower than this is a hang")
    parser.add_argument("--memory-mb", type=int, default=3072, help="address-space limit of this process")
    parser.add_argument("--keep", type=Path, help="save failing recipes here")
    args = parser.parse_args(argv)
    import resource  # POSIX only, like SIGALRM

    limit = args.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)
    image = Image(np.random.default_rng(0).random((ROWS, COLS, 3), dtype=np.float32))
    bases = base_recipes()
    outcomes: Counter = Counter()
    reasons: Counter = Counter()
    failures = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        save_mask_raster(Mask(ROWS, COLS, raster=np.full((ROWS, COLS), 0.5, np.float32)), folder / RASTER)
        for seed in range(args.seed, args.seed + args.cases):
            text = make_case(seed, bases)
            signal.alarm(args.case_seconds)
            try:
                outcome, detail = run_case(text, folder / f"case{seed}.json", image)
            except _Slow:
                outcome, detail = "FAIL", f"hang: over {args.case_seconds} s"
            except MemoryError:
                outcome, detail = "FAIL", f"memory: over {args.memory_mb} MB"
            finally:
                signal.alarm(0)
            outcomes[outcome] += 1
            if outcome == "refused":
                reasons[re.sub(r"\d+", "N", detail.replace("recipe <recipe>", ""))[:64]] += 1
            if outcome == "FAIL":
                failures += 1
                print(f"FAIL seed {seed}: {detail}", flush=True)
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    (args.keep / f"seed{seed}.json").write_text(text, encoding="utf-8", errors="surrogatepass")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.cases} cases from seed {args.seed} in {time.perf_counter() - start:.0f} s: "
          f"{outcomes['ok']} loaded and rendered, {outcomes['refused']} refused with a typed error, "
          f"{failures} failed; peak memory {peak:.0f} MB")
    for reason, count in reasons.most_common(8):
        print(f"  {count:5d} refused: {reason}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
