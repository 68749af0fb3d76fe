"""Seeded mutations of valid files: bit flips, truncation, insertion, deletion, repetition, field tampering.

:func:`mutate` applies one to three operations chosen by ``random.Random``
seeded with the case number, so case ``n`` of seed ``s`` is the same bytes on
every machine. Format-aware steps reach past the first integrity check: PNG
chunk CRCs are recomputed (most of the time), TIFF IFD entries and DICOM
header elements get absurd values, and JPEG segments are repeated (the
scan-repetition bomb).
"""

from __future__ import annotations

import random
import struct
import zlib

INTERESTING_16 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x3FFF, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)
INTERESTING_32 = (0, 1, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 40000, 65535 * 3)
INTERESTING_TEXT = (b"NaN", b"inf", b"-inf", b"1e308", b"-1e308", b"0", b"-0", b"abc", b"1e-320", b"99999999999")


def _bit_flips(rng: random.Random, data: bytearray) -> str:
    count = rng.randint(1, 8)
    for _ in range(count):
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)
    return f"flip {count} bit(s)"


def _byte_set(rng: random.Random, data: bytearray) -> str:
    count = rng.randint(1, 4)
    for _ in range(count):
        data[rng.randrange(len(data))] = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    return f"set {count} byte(s)"


def _truncate(rng: random.Random, data: bytearray) -> str:
    keep = rng.randrange(1, len(data)) if rng.random() < 0.5 else len(data) - rng.randint(1, min(64, len(data) - 1))
    del data[keep:]
    return f"truncate to {keep}"


def _insert(rng: random.Random, data: bytearray) -> str:
    position, count = rng.randrange(len(data) + 1), rng.randint(1, 64)
    data[position:position] = bytes(rng.randrange(256) for _ in range(count))
    return f"insert {count} at {position}"


def _delete(rng: random.Random, data: bytearray) -> str:
    start = rng.randrange(len(data))
    count = rng.randint(1, max(1, min(256, len(data) - start)))
    del data[start:start + count]
    return f"delete {count} at {start}"


def _repeat(rng: random.Random, data: bytearray) -> str:
    start = rng.randrange(len(data))
    length = rng.randint(1, min(512, len(data) - start))
    times = rng.choice((2, 10, 100, 1000))
    piece = bytes(data[start:start + length])
    data[start:start] = piece * (times - 1)
    return f"repeat {length} bytes at {start} x{times}"


def _tamper_int(rng: random.Random, data: bytearray) -> str:
    """Write an interesting 16- or 32-bit value, either byte order, into the first kilobyte (the headers)."""
    wide = rng.random() < 0.5
    size = 4 if wide else 2
    if len(data) <= size:
        return _byte_set(rng, data)
    position = rng.randrange(min(len(data), 1024) - size + 1)
    value = rng.choice(INTERESTING_32 if wide else INTERESTING_16)
    struct.pack_into(rng.choice("<>") + ("I" if wide else "H"), data, position, value)
    return f"write {value:#x} at {position}"


def _tamper_tiff_entry(rng: random.Random, data: bytearray) -> str:
    """Give one entry of the first IFD an interesting type, count or value (classic TIFF)."""
    order = "<" if data[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack_from(order + "I", data, 4)
        (count,) = struct.unpack_from(order + "H", data, ifd)
        entry = ifd + 2 + 12 * rng.randrange(max(1, count))
        field = rng.choice((2, 4, 8))
        if field == 2:
            struct.pack_into(order + "H", data, entry + 2, rng.choice((0, 1, 3, 4, 5, 12, 16, 99)))
        else:
            struct.pack_into(order + "I", data, entry + field, rng.choice(INTERESTING_32))
        return f"tiff entry at {entry} field {field}"
    except struct.error:
        return _tamper_int(rng, data)


def _tamper_dicom_text(rng: random.Random, data: bytearray) -> str:
    """Replace the value of one short text element (DS, IS...) of a DICOM header by an absurd number."""
    candidates = [position for position in range(132, min(len(data), 4096) - 8)
                  if data[position + 4:position + 6] in (b"DS", b"IS")]
    if not candidates:
        return _tamper_int(rng, data)
    position = rng.choice(candidates)
    (length,) = struct.unpack_from("<H", data, position + 6)
    text = rng.choice(INTERESTING_TEXT)
    text = (text + b" " * length)[:length] if length else text
    data[position + 8:position + 8 + len(text)] = text
    return f"dicom text at {position} = {text!r}"


def _fix_png_crcs(data: bytearray) -> None:
    """Recompute every chunk CRC so the mutation reaches the decoder."""
    position = 8
    while position + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, position)
        end = position + 8 + length
        if end + 4 > len(data):
            return
        struct.pack_into(">I", data, end, zlib.crc32(bytes(data[position + 4:end])))
        position = end + 4


GENERIC = (_bit_flips, _byte_set, _truncate, _insert, _delete, _repeat, _tamper_int)


def mutate(data: bytes, name: str, seed: int, case: int) -> tuple[bytes, str]:
    """Return case ``case`` of ``seed`` mutated from ``data`` and a description of the steps.

    ``data`` is the content of the seed file ``name``.
    """
    rng = random.Random(f"{seed}:{case}:{name}")
    out = bytearray(data)
    operations = list(GENERIC)
    if name.endswith(".tif"):
        operations += [_tamper_tiff_entry] * 3
    if name.endswith(".dcm"):
        operations += [_tamper_dicom_text] * 3
    steps = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        if len(out) < 2:
            out = bytearray(data[:2])
        steps.append(rng.choice(operations)(rng, out))
    if name.endswith(".png") and rng.random() < 0.7:
        _fix_png_crcs(out)
        steps.append("fix CRCs")
    return bytes(out), "; ".join(steps)
