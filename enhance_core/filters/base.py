"""The filter contract: a parameters dataclass plus a pure function on pixels.

A filter's parameters are a frozen dataclass whose fields are declared with
:func:`param`; each field carries what a GUI needs to build its control (kind,
range, default, label, unit). The function has the signature
``apply(pixels, params, ctx) -> pixels``: it takes float32 (rows, cols, C)
pixels under the contract of :mod:`enhance_core.image`, never changes its
input in place, does no I/O, and returns a new array of the same shape
(size-changing filters, which set :attr:`FilterDef.geometry`, return
``ctx.out_region`` of their output instead).

Filters are registered explicitly in :mod:`enhance_core.filters.registry`
(no folder scanning).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.validation import shown

ProgressFn = Callable[[float, str], None]
StopFn = Callable[[], bool]
Points = tuple[tuple[float, float], ...]
"""A curve's control points: ``(x, y)`` pairs in [0, 1], x strictly increasing."""
MIN_POINTS = 2
MAX_POINTS = 16


def _no_progress(fraction: float, message: str) -> None:
    """Ignore progress reports."""


def _never_stop() -> bool:
    """Never ask a job to stop."""
    return False


def _no_note(text: str) -> None:
    """Ignore what a filter says about its work."""


@dataclass(frozen=True)
class ParamSpec:
    """What a GUI needs to build the control for one parameter.

    ``kind`` is ``"float"``, ``"int"``, ``"bool"``, ``"choice"`` or ``"points"``;
    ``minimum`` and ``maximum`` bound numbers, ``choices`` lists the allowed
    strings. A ``points`` parameter (declared with a tuple default) is a curve's
    control points: a tuple of ``(x, y)`` pairs, x strictly increasing, both in
    [0, 1], :data:`MIN_POINTS` to :data:`MAX_POINTS` of them (see :func:`coerce_points`).
    ``log`` asks for a logarithmic slider (sigma, clip limit...).
    ``used_when`` is ``(choice_parameter, choice)`` for a parameter that only
    matters when that choice is made, or ``(switch_parameter, True)`` for one
    that matters only when a boolean parameter is on (a GUI greys it out
    otherwise), or empty.
    """

    name: str
    kind: str
    default: Any
    label: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    log: bool = False
    help: str = ""
    used_when: tuple[str, str | bool] | tuple[()] = ()


def param(
    default: Any,
    *,
    label: str,
    minimum: float | None = None,
    maximum: float | None = None,
    unit: str = "",
    step: float | None = None,
    choices: tuple[str, ...] = (),
    log: bool = False,
    help: str = "",
    used_when: tuple[str, str | bool] | tuple[()] = (),
) -> Any:
    """Declare a filter parameter as a dataclass field with its GUI metadata."""
    meta = dict(label=label, minimum=minimum, maximum=maximum, unit=unit, step=step,
                choices=tuple(choices), log=log, help=help, used_when=tuple(used_when))
    return field(default=default, metadata={"param": meta})


def param_specs(params_type: type) -> list[ParamSpec]:
    """Return the :class:`ParamSpec` of every field of a parameters dataclass, in order."""
    specs = []
    for f in dataclasses.fields(params_type):
        meta = f.metadata.get("param")
        if meta is None:
            raise TypeError(f"{params_type.__name__}.{f.name} must be declared with param()")
        if meta["choices"]:
            kind = "choice"
        elif isinstance(f.default, tuple):
            kind = "points"
        elif isinstance(f.default, bool):
            kind = "bool"
        elif isinstance(f.default, int):
            kind = "int"
        else:
            kind = "float"
        specs.append(ParamSpec(name=f.name, kind=kind, default=f.default, **meta))
    kinds = {spec.name: spec for spec in specs}
    for spec in specs:
        if not spec.used_when:
            continue
        other, value = spec.used_when
        named = kinds.get(other)
        if named is None or not (value in named.choices if named.kind == "choice"
                                 else named.kind == "bool" and value is True):
            raise TypeError(f"{params_type.__name__}.{spec.name}: used_when={spec.used_when!r} names no choice "
                            f"of a choice parameter, nor a boolean parameter turned on")
    return specs


@dataclass(frozen=True)
class RenderContext:
    """How and where a filter is being rendered.

    Attributes
    ----------
    scale : float
        Rendered pixels per source pixel: 1 at full resolution, 0.25 for a
        quarter-size preview. Spatial filters express sizes in *source* pixels
        and multiply by ``scale``, so a preview matches the export.
    bit_depth : int
        Bits per sample of the source (bit-plane slicing, level counts).
    value_offset, value_scale, unit
        Affine map from normalized pixels to physical units (see
        :class:`enhance_core.image.ImageMeta`); window/level takes its
        center and width in those units.
    value_range : (float, float) or None
        The source's lowest and highest physical value as read, padding left
        out (``meta.extra["value_range"]`` of a DICOM slice); None when not recorded.
    padding : (float, float) or None
        The physical span of the source's padding values (``meta.extra["padding"]``: a CT's
        ``PixelPaddingValue``, the area outside its scanned circle); None when it names none.
    value_step : float
        What DICOM's LINEAR takes off a window's width on this image
        (:func:`enhance_core.filters.point.value_step`: 1 on most CT and MR, a
        finer grid's step, 0 for photographs and float samples).
    voi_lut : tuple of float or None
        The source's VOI LUT (DICOM VOI LUT Sequence) as display values 0..1,
        which window/level's "file LUT" curve spreads over its window; None
        when the source has none.
    mask : ndarray or None
        Float (rows, cols) mask of the stack step being rendered, or None.
        The stack blends by it anyway; learned filters use it to compute only
        the tiles it touches.
    mask_layer : Mask or None
        The step's :class:`enhance_core.masks.Mask` (vectors), or None. For
        filters whose painted mask edits what they compute (see
        :attr:`FilterDef.mask_edits`) it is composited over the filter's own
        mask with ``Mask.render_over``; ``mask`` is then None and the stack
        does not blend by it. Other filters may read it for what depends on
        the whole painting (hole fill's context margin, in
        :attr:`FilterDef.margin` and in ``apply`` alike).
    source : ndarray or None
        The source image's full-resolution pixels, for filters whose analysis
        must see the whole original at full resolution (the damage detector)
        whatever the preview scale or region.
    origin : (int, int)
        Row and column, in the render at ``scale``, of the first pixel handed to the filter.
    note : callable
        ``note(text)`` tells the user what the filter decided by itself (the
        noise level it estimated); the editor shows it with the step, the
        command line prints it per file.
    progress, should_stop
        Progress callback ``progress(fraction, message)`` and cooperative stop
        check; long filters call ``should_stop()`` often and raise
        :class:`enhance_core.errors.Cancelled` when it returns true.
    device : str or None
        Compute device for learned filters (``"cpu"``, ``"cuda"``, ``"mps"``), or None for automatic.
    out_region : Region or None
        For size-changing filters (:attr:`FilterDef.geometry`): the part of
        the step's output to return, in output coordinates at ``scale``;
        None for the others.
    in_shape : (int, int) or None
        (rows, cols) of the step's whole input at ``scale`` (``origin`` places
        the pixels handed over in it); None outside a render.
    in_affine : 2x3 tuple or None
        Affine (see :mod:`enhance_core.geometry`) from the *source*'s
        full-resolution continuous pixel coordinates to the step's input at
        ``scale``: scaling by ``scale`` when no size-changing step comes
        before, None outside a render. Filters that analyse ``source`` use
        it to find their input in it.
    measure : bool
        Whether a filter whose geometry depends on measuring ``source``
        (deskew) may measure it to plan; False (the editor's GUI thread,
        which must not stall) plans with what is already known, a cached
        measurement, else a guess (see
        :func:`enhance_core.filters.geometry_ops.skews_measured`). Renders
        always measure.
    windowed : bool
        Whether a window/level step came before this one in the stack: the
        pixels are then a display picture of the window, no longer the
        source's values mapped by ``value_offset``/``value_scale``.
    draft : bool
        Whether this is the editor's quick proxy render, shown at once and
        replaced by the exact preview moments later: a filter whose analysis
        of the full-resolution ``source`` takes seconds may approximate it
        (the damage detector looks at a reduced copy of the source until its
        full-resolution map is ready). False for previews, views and exports.
    icc_profile : bytes or None
        The source's embedded ICC profile: learned filters, trained on sRGB-encoded values, are handed the
        pixels (and ``source``) re-encoded as sRGB when it describes another space, or with sRGB's tone curve
        in its own primaries (:attr:`FilterDef.own_primaries`; :mod:`enhance_core.io.working_space`, done by
        the renderer).
    float_source : bool
        Whether the source's samples are floating point (a float TIFF): its values past white and below black
        are picture, as in float editors, so tone operations keep them (:func:`enhance_core.filters.common.
        clip_unless_float`) and filters defined on [0, 1] only (:attr:`FilterDef.unit_range`) carry them. False
        after a window/level step, whose display picture ends at black and white whatever the samples were.
    """

    scale: float = 1.0
    bit_depth: int = 8
    value_offset: float = 0.0
    value_scale: float = 1.0
    unit: str = ""
    value_range: tuple[float, float] | None = None
    padding: tuple[float, float] | None = None
    value_step: float = 0.0
    voi_lut: tuple[float, ...] | None = None
    mask: np.ndarray | None = None
    mask_layer: Any = None
    source: np.ndarray | None = None
    origin: tuple[int, int] = (0, 0)
    note: Callable[[str], None] = _no_note
    progress: ProgressFn = _no_progress
    should_stop: StopFn = _never_stop
    device: str | None = None
    out_region: Any = None
    in_shape: tuple[int, int] | None = None
    in_affine: Any = None
    measure: bool = True
    windowed: bool = False
    draft: bool = False
    icc_profile: bytes | None = None
    float_source: bool = False

    def with_(self, **changes: Any) -> RenderContext:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


ApplyFn = Callable[[np.ndarray, Any, RenderContext], np.ndarray]
GeometryFn = Callable[[Any, int, int, RenderContext], Any]


@dataclass(frozen=True)
class FilterDef:
    """A registered filter.

    Attributes
    ----------
    name : str
        Stable identifier used in recipes and on the command line (``gaussian_blur``).
    label : str
        Name shown to users (``Gaussian blur``).
    category : str
        Menu group, one of :data:`enhance_core.filters.registry.CATEGORIES`:
        ``Geometry``, ``Tone``, ``Color``, ``Blur & denoise``, ``Sharpen & edges``,
        ``Frequency``, ``Learned``, ``Medical``.
    params_type : type
        The frozen parameters dataclass.
    apply : callable
        ``apply(pixels, params, ctx) -> pixels``.
    margin : callable
        ``margin(params, ctx) -> int``: rows/cols of context a region render
        needs around the region (0 for point operations); ``ctx.mask_layer``
        is the step's mask (or None).
    grid : int
        A region render's input starts on rows and columns that are multiples
        of this (in the step's input pixels): a network that halves the image
        several times sees the pixels on the grid a whole-image pass does, so
        the 1:1 view shows what the export writes (the denoiser's: 8).
    learned : bool
        True for CNN filters (run through the inference engine, may be slow).
    description : str
        One sentence for tooltips and ``--help``.
    mask_edits : callable
        ``mask_edits(params) -> bool``: True when, with these parameters, the
        step's painted mask edits a mask the filter finds itself (paint adds,
        erase removes) instead of limiting where its result applies.
    needs_mask : callable
        ``needs_mask(params) -> bool``: True when, with these parameters, the
        step cannot run without a mask (a hole fill of the painted holes).
    geometry : callable or None
        For filters that change the image size (crop, rotate, resize,
        super-resolution): ``geometry(params, rows, cols, ctx) ->
        StepGeometry`` (:mod:`enhance_core.geometry`) gives the output size
        and the affine from input to output for an input of ``rows`` x
        ``cols`` at ``ctx.scale`` (``ctx.source`` and ``ctx.in_affine`` are
        set, for filters that decide from the image). ``apply`` then returns
        ``ctx.out_region`` of the output from the input region it gets, and
        ``margin`` is counted in input pixels around the preimage of that
        region. None (the default): the output has the input's shape.
    unit_range : bool
        True for a filter defined on values within [0, 1] only, as every
        learned filter is: a float picture's values past white or black are
        handed to it clipped, and its change is added back to them, so they
        are kept (by the renderer).
    refusal : callable
        ``refusal(params) -> str | None``: why these parameters can do nothing on
        any image (a crop that cuts all away), or None. ``apply`` refuses such a
        step before reading a file, and the editor refuses the value; a saved
        project or recipe holding it still opens (its render says why).
    own_primaries : bool
        True for a learned filter that only takes noise or damage out: a
        picture in another profile is handed to it with sRGB's tone curve in
        its own primaries, so no colour is clipped to sRGB's gamut (a clipped
        channel kept its noise, or the damage). False: re-encoded as sRGB
        (low light, whose brightness and colours were learned there).
    """

    name: str
    label: str
    category: str
    params_type: type
    apply: ApplyFn
    margin: Callable[[Any, RenderContext], int] = lambda params, ctx: 0
    grid: int = 1
    learned: bool = False
    description: str = ""
    mask_edits: Callable[[Any], bool] = lambda params: False
    needs_mask: Callable[[Any], bool] = lambda params: False
    geometry: GeometryFn | None = None
    unit_range: bool = False
    own_primaries: bool = False
    refusal: Callable[[Any], str | None] = lambda params: None

    @property
    def specs(self) -> list[ParamSpec]:
        """Parameter specs in declaration order."""
        return param_specs(self.params_type)

    def default_params(self) -> Any:
        """Return the parameters dataclass with every default."""
        return self.params_type()

    def make_params(self, values: dict[str, Any], *, partial: bool = True) -> Any:
        """Validate ``values`` and build the parameters dataclass.

        Unknown names, wrong types and out-of-range numbers raise
        :class:`ParameterError` naming the filter, the parameter and the allowed
        range. With ``partial=False`` every parameter must be given (recipes).
        Partial values that set a parameter of one choice only (``used_when``)
        but not the choice itself select that choice: ``{"sigma": 25}`` is
        manual denoising. A setting of a switch turns the switch on only when
        it is itself on (``{"remove_cast": false}`` leaves ``rebalance`` off).
        """
        specs = {s.name: s for s in self.specs}
        unknown = sorted(set(values) - set(specs))
        if unknown:
            raise ParameterError(
                f"filter {self.name!r} has no parameter {unknown[0]!r}; its parameters are: {', '.join(specs)}"
            )
        if not partial:
            missing = [n for n in specs if n not in values]
            if missing:
                raise ParameterError(f"filter {self.name!r}: parameter {missing[0]!r} is missing")
        clean = {name: coerce_param(self.name, specs[name], value) for name, value in values.items()}
        for name in values:
            choice = specs[name].used_when
            if choice and choice[0] not in values and (specs[choice[0]].kind != "bool" or clean[name]):
                clean[choice[0]] = choice[1]
        return dataclasses.replace(self.default_params(), **clean)


def choice_named(value: Any, choices: Sequence[str]) -> str | None:
    """The one of ``choices`` that ``value`` names: its text, or a number equal to a choice that is a number (an
    angle of 90 or "90.0" for the choice "90", as ``apply --list`` shows it); None for none."""
    if str(value) in choices:
        return str(value)
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    for choice in choices:
        try:
            if float(choice) == number:
                return choice
        except ValueError:
            continue
    return None


def coerce_param(filter_name: str, spec: ParamSpec, value: Any) -> Any:
    """Convert ``value`` (from JSON or the command line) to the spec's type and check its range."""
    where = f"filter {filter_name!r}, parameter {spec.name!r}"
    if spec.kind == "points":
        return coerce_points(value, where=where, name=spec.name)
    if spec.kind == "choice":
        named = choice_named(value, spec.choices)
        if named is None:
            raise ParameterError(f"{where}: {shown(value)} is not one of {', '.join(spec.choices)}")
        return named
    if spec.kind == "bool":
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ParameterError(f"{where}: {shown(value)} is not a boolean; use true or false")
        if isinstance(value, (bool, int)):
            return bool(value)
        raise ParameterError(f"{where}: {shown(value)} is not a boolean; use true or false")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{where}: {shown(value)} is not a number") from None
    if not np.isfinite(number):
        raise ParameterError(f"{where}: {shown(value)} is not a finite number")
    if spec.kind == "int":
        if number != int(number):
            raise ParameterError(f"{where}: {shown(value)} must be a whole number")
        number = int(number)
    lo, hi = spec.minimum, spec.maximum
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        allowed = f"{lo:g} or more" if hi is None else f"up to {hi:g}" if lo is None else f"{lo:g} to {hi:g}"
        given = shown(value.strip()).strip('"') if isinstance(value, str) else shown(value)  # --set's text, unquoted
        raise ParameterError(f"{where}: {given} is outside the allowed range {allowed}")
    return number


def format_points(points: Points) -> str:
    """``points`` as the command line writes them: ``0,0;0.25,0.2;1,1``."""
    return ";".join(f"{x:g},{y:g}" for x, y in points)


def parse_points(text: str) -> list[list[float]]:
    """Split ``"0,0;0.25,0.2;1,1"`` (points separated by ``;`` or spaces) into ``[[x, y], ...]``.

    Raises :class:`ValueError` when a point is not two numbers.
    """
    out = []
    for chunk in text.replace(";", " ").split():
        parts = chunk.split(",")
        if len(parts) != 2:
            raise ValueError(f"{chunk!r} is not a point x,y")
        out.append([float(parts[0]), float(parts[1])])
    return out


def coerce_points(value: Any, *, where: str, name: str) -> Points:
    """Validate control points given as ``[[x, y], ...]`` (JSON, Python) or ``"x,y;x,y"`` (command line).

    Returns a tuple of ``(x, y)`` float pairs. Raises :class:`ParameterError`
    naming ``where`` and how to write the value unless there are
    :data:`MIN_POINTS` to :data:`MAX_POINTS` points, each x and y a finite
    number from 0 to 1 and the x strictly increasing.
    """
    fix = (f"give {MIN_POINTS} to {MAX_POINTS} points x,y from 0 to 1 with x increasing, like "
           f"--set '{name}=0,0;0.25,0.2;1,1' (quoted) or [[0, 0], [0.25, 0.2], [1, 1]] in a recipe")
    try:
        raw = parse_points(value) if isinstance(value, str) else [list(point) for point in value]
    except (TypeError, ValueError):
        raise ParameterError(f"{where}: {shown(value)} is not a list of points; {fix}") from None
    if not MIN_POINTS <= len(raw) <= MAX_POINTS:
        raise ParameterError(f"{where}: {len(raw)} point(s) given; {fix}")
    points = []
    for point in raw:
        if len(point) != 2 or any(isinstance(v, (bool, np.bool_, str)) for v in point):
            raise ParameterError(f"{where}: {shown(point)} is not a point (x, y); {fix}")
        try:
            x, y = float(point[0]), float(point[1])
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(f"{where}: {shown(point)} is not a point of two numbers; {fix}") from None
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ParameterError(f"{where}: point {x:g},{y:g} is outside 0..1; {fix}")
        points.append((x, y))
    xs = [x for x, _ in points]
    if any(b <= a for a, b in zip(xs, xs[1:])):
        raise ParameterError(f"{where}: the x of the points must increase, one point per x, got "
                             f"{format_points(tuple(points))}; {fix}")
    return tuple(points)

