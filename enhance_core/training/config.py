"""Training configurations: defaults, a JSON file and ``--set key=value`` overrides."""

from __future__ import annotations

import json
from pathlib import Path


def load_config(defaults: dict, path: str | None, overrides: list[str]) -> dict:
    """Merge ``defaults``, the JSON config file at ``path`` and ``key=value`` overrides.

    Parameters
    ----------
    defaults : dict
        Every known key with its default value.
    path : str or None
        A JSON object file whose keys replace the defaults.
    overrides : list of str
        ``key=value`` items applied last. A value is read as JSON
        (``steps=4000``, ``widths=[32, 64]``); where the default is a
        string, a value that is not JSON is taken as written
        (``out_dir=runs/x``).

    Returns
    -------
    dict
        The merged configuration.

    Raises
    ------
    SystemExit
        With a message naming the file, key or value at fault.
    """
    config = dict(defaults)
    if path:
        try:
            loaded = json.loads(Path(path).read_text())
        except OSError as error:
            raise SystemExit(f"cannot read config file {path}: {error.strerror or error}") from None
        except json.JSONDecodeError as error:
            raise SystemExit(f"config file {path} is not valid JSON ({error}); "
                             "fix it or pass another --config") from None
        if not isinstance(loaded, dict):
            raise SystemExit(f"config file {path} must hold a JSON object of settings")
        unknown = sorted(set(loaded) - set(defaults))
        if unknown:
            raise SystemExit(f"config file {path} has unknown keys {', '.join(unknown)}; "
                             f"known keys: {', '.join(defaults)}")
        config.update(loaded)
    for item in overrides:
        key, equals, value = item.partition("=")
        if not equals:
            raise SystemExit(f"--set {item!r} must look like KEY=VALUE, for example steps=4000")
        if key not in defaults:
            raise SystemExit(f"unknown config key {key!r}; known keys: {', '.join(defaults)}")
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            if not isinstance(defaults[key], str):
                raise SystemExit(f"--set {key}={value}: {value!r} is not a JSON value; "
                                 f"write it as JSON, like the default {json.dumps(defaults[key])}") from None
            config[key] = value
    return config
