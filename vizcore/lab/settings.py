"""Typed settings of the Classroom lab: one ``Op`` enum and one frozen ``LabSettings``.

Everything the lab derives (step plan, figure, GIF, whole-photo picture) is a function of a
``LabSettings`` value, so it can be cached by it and shared by every student on the same settings.
A new operation is one ``Op`` member plus its branches in ``vizcore/lab/lesson.py`` and ``app/lab/``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum


class Op(StrEnum):
    """The operations the lab steps through (also the ``op`` of a ``StepPlan``)."""

    CONV = "conv"
    DEPTHWISE = "depthwise"
    TRANSPOSED = "transposed"
    MAX = "max"
    AVG = "avg"
    GAP = "gap"

    @property
    def label(self) -> str:
        """Plain name shown in the operation picker."""
        return _LABELS[self]

    @property
    def is_conv(self) -> bool:
        """A kernel of weights (convolution, depthwise or transposed)."""
        return self in (Op.CONV, Op.DEPTHWISE, Op.TRANSPOSED)

    @property
    def is_pool(self) -> bool:
        """A window without weights (max, average or global average pooling)."""
        return not self.is_conv

    @property
    def per_channel(self) -> bool:
        """Each input channel gives its own output channel (depthwise and pooling)."""
        return self not in (Op.CONV, Op.TRANSPOSED)

    @property
    def has_gradients(self) -> bool:
        """The static convolution backward view exists (convolution and depthwise)."""
        return self in (Op.CONV, Op.DEPTHWISE)

    @property
    def knobs(self) -> str:
        """The settings that decide the output size (said when the settings are impossible)."""
        return _KNOBS[self]


_LABELS = {Op.CONV: "Convolution", Op.DEPTHWISE: "Depthwise (grouped) convolution",
           Op.TRANSPOSED: "Transposed convolution (upsampling)", Op.MAX: "Max pooling",
           Op.AVG: "Average pooling", Op.GAP: "Global average pooling"}
_KNOBS = {Op.CONV: "kernel size, stride, padding or dilation",
          Op.DEPTHWISE: "kernel size, stride, padding or dilation",
          Op.TRANSPOSED: "kernel size, stride, padding, output padding or dilation",
          Op.MAX: "window, stride or padding", Op.AVG: "window, stride or padding", Op.GAP: "grid"}


class Source(StrEnum):
    """Where a convolution's kernel comes from."""

    PRESET = "preset"
    LEARNED = "learned"
    CUSTOM = "custom"


Kernel = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class LabSettings:
    """Every choice that decides what the lab computes (hashable; strings are coerced to enums).

    ``grid`` cells per side of the region (``side`` photo pixels around ``centre`` = (x, y)
    fractions); ``k`` kernel or window size; ``padding`` an int or ``"same"``; ``channel`` the
    output channel that is stepped through (depthwise and pooling on RGB).
    """

    op: Op = Op.CONV
    grid: int = 8
    rgb: bool = False
    side: int = 96
    centre: tuple[float, float] = (0.5, 0.5)
    source: Source = Source.PRESET
    preset_name: str = "Sobel x"
    custom: Kernel = ()
    k: int = 3
    filter_index: int = 0
    fold_bn: bool = True
    stride: int = 1
    padding: int | str = 0
    dilation: int = 1
    output_padding: int = 0
    channel: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", Op(self.op))
        object.__setattr__(self, "source", Source(self.source))
        object.__setattr__(self, "centre", tuple(float(v) for v in self.centre))
        object.__setattr__(self, "custom", tuple(tuple(float(v) for v in r) for r in self.custom))
        if self.padding != "same":
            object.__setattr__(self, "padding", int(self.padding))

    @property
    def learned(self) -> bool:
        """The kernel is a real filter of the model (needs normalised RGB input)."""
        return self.op.is_conv and self.source is Source.LEARNED

    @property
    def colour(self) -> bool:
        """RGB input (a learned filter always sees the three channels)."""
        return self.rgb or self.learned

    def canonical(self) -> LabSettings:
        """The same lesson with every setting that does not matter reset to its default, so equal
        lessons share one cache entry (e.g. the kernel preset of a pooling lesson)."""
        d = LabSettings()
        keep = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.op.is_pool:
            keep.update(source=d.source, preset_name=d.preset_name, custom=d.custom,
                        filter_index=d.filter_index, fold_bn=d.fold_bn, dilation=1)
        if self.op is Op.GAP:
            keep.update(k=d.k, stride=1, padding=0)
        if self.op is not Op.TRANSPOSED:
            keep.update(output_padding=0)
        if self.op.is_conv and self.source is not Source.CUSTOM:
            keep.update(custom=())
        if self.learned:
            keep.update(preset_name=d.preset_name, rgb=True)
        elif self.op.is_conv:
            keep.update(filter_index=0, fold_bn=True)
        if not (self.op.per_channel and self.colour):
            keep.update(channel=0)
        return replace(d, **keep)
