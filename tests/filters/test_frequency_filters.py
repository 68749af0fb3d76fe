"""Known answers of the FFT filters and homomorphic filtering."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.errors import ParameterError
from enhance_core.filters.base import RenderContext
from enhance_core.filters.conflicts import check_param_conflicts
from enhance_core.filters.registry import get_filter

from .test_point_filters import run


def stripes(period: float, size: int = 128, amplitude: float = 0.2) -> np.ndarray:
    cols = np.arange(size, dtype=np.float32)
    row = 0.5 + amplitude * np.sin(2 * np.pi * cols / period)
    return np.ascontiguousarray(np.tile(row, (size, 1))[:, :, None], dtype=np.float32)


def amplitude(pixels: np.ndarray) -> float:
    inner = pixels[32:-32, 32:-32, 0]
    return float((inner.max() - inner.min()) / 2)


@pytest.mark.parametrize("shape", ("ideal", "butterworth", "gaussian"))
def test_lowpass_removes_short_and_keeps_long_wavelengths(shape: str) -> None:
    params = {"cutoff": 16.0, "shape": shape, "order": 4}
    assert amplitude(run("fft_lowpass", stripes(4), **params)) < 0.02
    assert amplitude(run("fft_lowpass", stripes(64), **params)) > 0.18


@pytest.mark.parametrize("shape", ("ideal", "butterworth", "gaussian"))
def test_highpass_keeps_short_wavelengths_and_the_mean(shape: str) -> None:
    params = {"cutoff": 16.0, "shape": shape, "order": 4}
    short = run("fft_highpass", stripes(4), **params)
    assert amplitude(short) > 0.18 and short.mean() == pytest.approx(0.5, abs=0.01)
    assert amplitude(run("fft_highpass", stripes(64), **params)) < 0.03
    dark = run("fft_highpass", stripes(64), **params, keep_mean=False)
    assert dark.mean() < 0.05


def test_bandpass_keeps_only_the_band() -> None:
    params = {"shortest": 8.0, "longest": 32.0, "shape": "butterworth", "order": 4}
    assert amplitude(run("fft_bandpass", stripes(16), **params)) > 0.17
    assert amplitude(run("fft_bandpass", stripes(4), **params)) < 0.02
    assert amplitude(run("fft_bandpass", stripes(128, size=256), **params)) < 0.03


def test_cutoff_follows_render_scale() -> None:
    full = run("fft_lowpass", stripes(8, 256), cutoff=16.0, shape="gaussian")
    half = run("fft_lowpass", stripes(4, 128), RenderContext(scale=0.5), cutoff=16.0, shape="gaussian")
    assert amplitude(half) == pytest.approx(amplitude(full), abs=0.01)


def test_homomorphic_filter_evens_out_illumination() -> None:
    rng = np.random.default_rng(7)
    reflectance = 0.5 + 0.3 * (rng.random((128, 128)) > 0.5)
    light = np.linspace(0.2, 1.0, 128)[None, :]
    pixels = (reflectance * light).astype(np.float32)[:, :, None]
    out = run("homomorphic", pixels, cutoff=64.0, low_gain=0.2, high_gain=1.2)
    before = pixels[:, -32:].mean() / pixels[:, :32].mean()
    after = out[:, -32:].mean() / out[:, :32].mean()
    assert after < 0.6 * before
    color = run("homomorphic", np.repeat(pixels, 3, axis=2), cutoff=64.0, low_gain=0.2, high_gain=1.2)
    np.testing.assert_allclose(color[..., 0], out[..., 0], atol=1e-5)


def test_a_steep_butterworth_far_below_its_cutoff_wavelength_removes_the_detail_without_a_warning() -> None:
    params = {"cutoff": 2000.0, "shape": "butterworth", "order": 10}
    assert amplitude(run("fft_lowpass", stripes(4), **params)) < 0.01


def test_the_homomorphic_filter_keeps_a_float_picture_s_values_below_black() -> None:
    """Its log clipped them at 0: a band at -0.3 came out 0 at neutral gains (a review)."""
    from enhance_core.filters.base import RenderContext
    from enhance_core.filters.registry import get_filter

    pixels = np.full((64, 64, 1), 0.4, np.float32)
    pixels[10:20] = -0.3
    pixels[40:50] = 3.0
    definition = get_filter("homomorphic")
    ctx = RenderContext(bit_depth=32, float_source=True)
    out = definition.apply(pixels, definition.make_params({"low_gain": 1.0, "high_gain": 1.0}), ctx)
    np.testing.assert_allclose(out, pixels, atol=1e-5)
    assert definition.apply(pixels, definition.default_params(), ctx)[12:18].max() < -0.2


@pytest.mark.parametrize("name", ("fft_lowpass", "fft_highpass", "fft_bandpass"))
def test_the_order_is_refused_with_a_shape_that_ignores_it(name: str) -> None:
    with pytest.raises(ParameterError, match="order is used only when shape=butterworth, not shape=gaussian"):
        check_param_conflicts(get_filter(name), {"shape": "gaussian", "order": 4})


def textured(rows: int = 192, cols: int = 256, channels: int = 3) -> np.ndarray:
    """A picture-like texture (blurred noise at two scales) with no periodic pattern."""
    import cv2

    rng = np.random.default_rng(7)
    planes = []
    for _ in range(channels):
        coarse = cv2.GaussianBlur(rng.random((rows, cols)).astype(np.float32), (0, 0), 6.0)
        fine = cv2.GaussianBlur(rng.random((rows, cols)).astype(np.float32), (0, 0), 1.0)
        planes.append(0.5 + 3.0 * (coarse - coarse.mean()) + 0.3 * (fine - fine.mean()))
    return np.clip(np.dstack(planes), 0.0, 1.0).astype(np.float32)


def with_stripes(pixels: np.ndarray, period: float, angle: float, amplitude: float = 0.05) -> np.ndarray:
    rows, cols = np.mgrid[0:pixels.shape[0], 0:pixels.shape[1]].astype(np.float32)
    wave = amplitude * np.sin(2 * np.pi * (rows * np.cos(angle) + cols * np.sin(angle)) / period)
    return (pixels + wave[:, :, None]).astype(np.float32)


def periodic(pixels: np.ndarray, scale: float = 1.0, **values) -> tuple[np.ndarray, list[str]]:
    definition = get_filter("periodic_noise")
    notes: list[str] = []
    out = definition.apply(pixels, definition.make_params(values), RenderContext(scale=scale, note=notes.append))
    return out, notes


def psnr(first: np.ndarray, second: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean(np.square(first - second))))


@pytest.mark.parametrize("angle", (0.0, 0.5, np.pi / 2))
def test_periodic_noise_removes_a_pattern_and_says_its_period(angle: float) -> None:
    """Banding along either axis and a slanted screen: one pattern each, gone to the edges, the picture kept."""
    clean = textured()
    striped = with_stripes(clean, 5.3, angle)
    out, notes = periodic(striped)
    assert psnr(out, clean) > psnr(striped, clean) + 15, (psnr(striped, clean), psnr(out, clean))
    assert notes == ["1 periodic pattern removed: period 5.3 px"]


def test_periodic_noise_leaves_a_picture_without_a_pattern_as_it_is() -> None:
    clean = textured()
    out, notes = periodic(clean)
    np.testing.assert_array_equal(out, clean)
    assert notes == ["no periodic pattern stands 20 dB above the spectrum around it at periods up to 16 px; lower "
                     "the peak height to find fainter ones"]
    gray = textured(channels=1)
    assert psnr(periodic(with_stripes(gray, 4.0, 1.0))[0], gray) > 40


def test_periodic_noise_preview_finds_what_the_export_removes() -> None:
    import cv2

    striped = with_stripes(textured(384, 512), 9.0, 0.7)
    full, said = periodic(striped)
    half, said_half = periodic(cv2.resize(striped, (256, 192), interpolation=cv2.INTER_AREA), scale=0.5)
    assert said == ["1 periodic pattern removed: period 9.0 px"]
    assert said_half == ["1 periodic pattern removed: period 9.0 px in this preview at 50%, where a pattern finer "
                         "than 4.0 px does not show: the 1:1 view and the export work at full resolution"]
    expected = cv2.resize(full, (256, 192), interpolation=cv2.INTER_AREA)
    assert np.abs(half - expected)[16:-16, 16:-16].max() < 0.02


def test_periodic_noise_region_render_is_the_crop_of_the_whole_render() -> None:
    """The 1:1 view renders a region: the patterns are those of the whole picture (its margin is the whole image)."""
    from enhance_core.image import Image, ImageMeta
    from enhance_core.masks import Region
    from enhance_core.render import Renderer
    from enhance_core.stack import make_item

    image = Image(with_stripes(textured(), 5.3, 0.5), meta=ImageMeta(bit_depth=32, float_source=True))
    steps = (make_item("periodic_noise", {}),)
    full = Renderer(cache_bytes=0).render(image, steps)
    assert psnr(full, textured()) > 40
    for region in (Region(5, 7, 40, 60), Region(150, 200, 42, 56)):
        part = Renderer(cache_bytes=0).render(image, steps, region=region)
        np.testing.assert_allclose(part, full[region.slices], atol=2e-5)


@pytest.mark.parametrize("angle", (20.0, 30.0, 45.0))
def test_periodic_noise_leaves_a_straight_slanted_edge_alone(angle: float) -> None:
    """An edge's streak across the spectrum was taken for 34-54 patterns: ripples over a flat wall (a helper)."""
    import cv2

    rows, cols = np.mgrid[0:256, 0:256].astype(np.float32)
    distance = np.abs((cols - 128) * np.sin(np.radians(angle)) - (rows - 128) * np.cos(np.radians(angle)))
    bar = cv2.GaussianBlur(np.where(distance < 6, 0.1, 0.8).astype(np.float32), (0, 0), 1.5)
    bar = (np.round(bar * 255) / 255).astype(np.float32)[:, :, None]
    out, notes = periodic(bar)
    np.testing.assert_array_equal(out, bar)
    assert notes[0].startswith("no periodic pattern")


@pytest.mark.parametrize("shape", ((192, 256), (191, 255)))
@pytest.mark.parametrize("wave", ("columns", "rows", "checkerboard"))
def test_periodic_noise_removes_a_two_pixel_pattern_instead_of_flipping_it(wave: str, shape: tuple[int, int]) -> None:
    """Odd and even columns: the wave and its mirror image meet, and twice the local mean flipped it over; on an odd
    width the fit's ridge, added to the determinant, left a checkerboard whole (two reviews)."""
    clean = textured(*shape)
    rows, cols = np.mgrid[0:clean.shape[0], 0:clean.shape[1]]
    sign = {"columns": (-1.0) ** cols, "rows": (-1.0) ** rows, "checkerboard": (-1.0) ** (rows + cols)}[wave]
    striped = (clean + 0.03 * sign[:, :, None]).astype(np.float32)
    out, notes = periodic(striped)
    assert psnr(out, clean) > psnr(striped, clean) + 10, (psnr(striped, clean), psnr(out, clean))
    assert len(notes) == 1 and notes[0].startswith("1 periodic pattern removed: period "), notes


def test_periodic_noise_takes_out_at_most_the_strongest_patterns_and_says_so() -> None:
    """Thousands of peaks at a low peak height took minutes; a halftone's dots are better softened by a blur."""
    from enhance_core.filters.frequency import MAX_PATTERNS

    clean = textured(384, 384, 1)
    striped = clean.copy()
    for number in range(MAX_PATTERNS + 16):
        striped = with_stripes(striped, 2.5 + 0.2 * number, 2.39996 * number, amplitude=0.01)
    out, notes = periodic(striped, height=10.0)
    assert notes[0].startswith(f"{MAX_PATTERNS} periodic patterns removed") and "the strongest of " in notes[0]
    assert psnr(out, clean) > psnr(striped, clean) + 3


def test_periodic_noise_names_each_peak_once_as_comparing_every_pair_would() -> None:
    """Comparing each peak with every one kept took minutes at a low peak height (tens of thousands of peaks)."""
    from enhance_core.filters.frequency import _distinct

    rows, cols = 60, 90
    rng = np.random.default_rng(5)
    centres = rng.uniform([-0.5, 0.0], [0.5, 0.5], (150, 2))
    centres[:30, 1] = rng.choice([0.0, 0.5], 30)  # on the edge columns, whose conjugates count
    centres[30:45, 0] = rng.choice([-0.5, 0.4999], 15)  # where fy wraps
    points = np.repeat(centres, 4, axis=0) + rng.normal(0, 1.2, (600, 2)) / [rows, cols]
    fy, fx = points[:, 0], points[:, 1] * rng.choice([-1, 1], 600)

    def near(y, x, z, w):
        return abs((y - z + 0.5) % 1.0 - 0.5) * rows <= 1.5 and abs(x - w) * cols <= 1.5

    kept: list[tuple[float, float]] = []
    for y, x in zip(fy.tolist(), np.abs(fx).tolist()):
        if not any(near(y, x, z, w) or (min(w, 0.5 - w) * cols <= 1.5 and near(y, x, -z, w)) for z, w in kept):
            kept.append((y, x))
    assert 100 < len(kept) < 600
    np.testing.assert_array_equal(_distinct(fy, fx, rows, cols), np.array(kept))
