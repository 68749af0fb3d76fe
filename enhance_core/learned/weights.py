"""The shipped weight format: self-describing safetensors pinned by sha256.

A weights file is a safetensors file (tensors only; nothing in it is ever
executed) whose string metadata holds:

``format``          ``"enhance-studio.weights"``
``format_version``  ``"1"``
``arch``            the architecture's name in :data:`enhance_core.learned.registry.ARCHS`
``args``            the constructor arguments, JSON
``training_config`` the resolved training configuration, JSON
``metrics``         measured quality and speed, JSON (``{}`` when not measured)
``source``          where the tensors came from (checkpoint and step)

Beside it, ``<file>.sha256`` holds the file's SHA-256 in ``sha256sum``
format for users (``sha256sum -c``), and the file name ends in the hash's
first 8 hex digits (``denoise-1a2b3c4d.safetensors``). Shipped models are
checked against the hash pinned in :data:`enhance_core.learned.registry.MODELS`,
never against that file. :func:`read_weights` hashes the bytes it parses, so
what is checked is exactly what is loaded.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from enhance_core.atomic import write_bytes_atomic
from enhance_core.errors import ModelError

MODELS_ENV = "ENHANCE_MODELS_DIR"
"""Environment variable naming a models folder to use instead of the shipped one."""

FORMAT = "enhance-studio.weights"
FORMAT_VERSION = "1"
_DTYPES = {"float16": "F16", "float32": "F32", "float64": "F64", "int64": "I64", "int32": "I32", "uint8": "U8",
           "bool": "BOOL"}
REQUIRED_METADATA = ("format", "format_version", "arch", "args", "training_config", "metrics", "source")


def sha256_path(weights: Path) -> Path:
    """Return the path of the sidecar file that pins ``weights``'s hash."""
    return weights.with_name(weights.name + ".sha256")


def read_expected_sha256(weights: Path) -> str:
    """Return the hash recorded in ``weights``'s sidecar file (for weights a user gives, not shipped ones).

    Raises
    ------
    ModelError
        The sidecar is missing or does not hold a 64-digit hex hash.
    """
    sidecar = sha256_path(weights)
    try:
        text = sidecar.read_text().split()
    except OSError as error:
        raise ModelError(f"{sidecar}: cannot read the weights' hash ({error.strerror}); reinstall the "
                         f"models folder or re-export the weights") from None
    digest = text[0].lower() if text else ""
    if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
        raise ModelError(f"{sidecar}: does not hold a SHA-256 hash; re-export the weights")
    return digest


def encode_weights(tensors: dict[str, Any], metadata: dict[str, str]) -> bytes:
    """Serialize ``tensors`` (name -> torch tensor) with ``metadata`` to safetensors bytes.

    The header is written with sorted keys (the safetensors library orders
    metadata arbitrarily), so the same tensors and metadata always give the
    same bytes and the same hash.
    """
    import numpy as np

    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ValueError(f"weights metadata lacks {', '.join(missing)}")
    header: dict[str, Any] = {"__metadata__": dict(metadata)}
    chunks, offset = [], 0
    for name in sorted(tensors):
        array = tensors[name].detach().cpu().contiguous().numpy()
        if array.dtype.name not in _DTYPES:
            raise ValueError(f"tensor {name!r} has dtype {array.dtype}; store one of {', '.join(_DTYPES)}")
        raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DTYPES[array.dtype.name], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_weights(folder: Path, name: str, data: bytes) -> tuple[Path, str]:
    """Write ``data`` as ``folder/<name>-<hash8>.safetensors`` plus its ``.sha256`` sidecar.

    Returns the weights path and the full hex SHA-256. Each file is written
    through :func:`enhance_core.atomic.write_bytes_atomic`, so a failed write
    leaves nothing behind.
    """
    digest = hashlib.sha256(data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{digest[:8]}.safetensors"
    for target, content in ((path, data), (sha256_path(path), f"{digest}  {path.name}\n".encode())):
        write_bytes_atomic(target, content)
    return path, digest


def parse_metadata(data: bytes, path: Path) -> dict[str, str]:
    """Return the metadata block of safetensors ``data`` read from ``path``."""
    try:
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + length])
    except (struct.error, ValueError, RecursionError) as error:
        raise ModelError(f"{path}: not a safetensors file ({error}); re-export the weights") from None
    metadata = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    if not isinstance(metadata, dict):
        metadata = {}
    if metadata.get("format") != FORMAT or metadata.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path}: not Enhance Studio weights of format version {FORMAT_VERSION} "
                         f"(found {metadata.get('format')!r} version {metadata.get('format_version')!r}); "
                         f"re-export it with python -m enhance_core.training.export")
    missing = [key for key in REQUIRED_METADATA if not isinstance(metadata.get(key), str)]
    if missing:
        raise ModelError(f"{path}: the weights' metadata lacks {', '.join(missing)}; re-export them with "
                         f"python -m enhance_core.training.export")
    return metadata


def metadata_args(metadata: dict[str, str], path: Path) -> dict[str, Any]:
    """Return the constructor arguments stored in the metadata of ``path`` (a JSON object)."""
    try:
        args = json.loads(metadata["args"])
    except (KeyError, TypeError, ValueError, RecursionError):
        args = None
    if not isinstance(args, dict):
        raise ModelError(f"{path}: the weights' metadata holds no constructor arguments (\"args\" must be a JSON "
                         f"object); re-export them with python -m enhance_core.training.export")
    return args


def read_weights(path: Path, *, sha256: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Check ``path`` against ``sha256`` and return its float32 tensors and metadata.

    Raises
    ------
    ModelError
        The file is missing, its hash differs from ``sha256``, or it is not in
        this format. The message names the file, both hashes and the fix.
    """
    from safetensors.torch import load

    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ModelError(f"{path}: cannot read model weights ({error.strerror}); reinstall Enhance Studio (its "
                         f"wheel holds the weights) or set {MODELS_ENV} to a folder that holds them (a checkout's "
                         f"models/); weights you trained: python -m enhance_core.training.export") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        raise ModelError(f"{path}: SHA-256 is {actual}, expected {sha256.lower()}; the file is corrupt or was "
                         f"replaced. Restore it from the release (or re-export it and its .sha256 file)")
    metadata = parse_metadata(data, path)
    try:
        tensors = load(data)
    except Exception as error:  # safetensors raises its own error types for malformed buffers
        raise ModelError(f"{path}: tensors cannot be read ({error}); re-export the weights") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, metadata


