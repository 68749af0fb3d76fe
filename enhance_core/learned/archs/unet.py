"""The residual U-Net levels that the denoiser, hole fill, damage detector and low-light denoiser share.

Each network brings its own head (a pixel unshuffle and a first convolution)
and tail (a last convolution and a pixel shuffle) and what it adds or
subtracts around them; between the two, :class:`UNetLevels` runs residual
blocks down a number of levels, a bottleneck, and back up, joining each
level's skip by addition. The networks differ only in the activation, the
biases and the downsampling, which are arguments here, so that a state-dict
key such as ``encoders.0.0.body.0.weight`` means the same in all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn


class ResBlock(nn.Module):
    """Two 3x3 convolutions with an activation between and an identity skip.

    Parameters
    ----------
    channels : int
        Feature channels in and out.
    slope : float or None
        Negative slope of a leaky ReLU between the convolutions; ``None`` for a plain ReLU.
    bias : bool
        Whether the convolutions have biases.
    """

    def __init__(self, channels: int, slope: float | None = None, bias: bool = True) -> None:
        super().__init__()
        act = nn.ReLU(inplace=True) if slope is None else nn.LeakyReLU(slope, inplace=True)
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=bias),
            act,
            nn.Conv2d(channels, channels, 3, padding=1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UNetLevels(nn.Module):
    """Base class of the U-Nets: encoder levels, a bottleneck and decoder levels with additive skips.

    A subclass sets its ``head`` first, then calls :meth:`build_levels`, then
    sets its ``tail`` (the order keeps the parameters in the order the
    training checkpoints hold them).
    """

    def build_levels(
        self,
        widths: Sequence[int],
        blocks: Sequence[int],
        *,
        slope: float | None = None,
        bias: bool = True,
        down: Callable[[int, int], nn.Module] | None = None,
    ) -> None:
        """Create the levels.

        Parameters
        ----------
        widths : sequence of int
            Feature channels per level, from the top level down; the last is the bottleneck's.
        blocks : sequence of int
            Residual blocks per encoder level and per decoder level (same length as ``widths``); the
            last entry is the bottleneck's.
        slope, bias
            Passed to every :class:`ResBlock`; ``bias`` also to the transposed convolutions that go up.
        down : callable, optional
            ``down(w, w_next)`` builds the module that halves the size; by default a 2x2 convolution
            of stride 2 with ``bias``.
        """
        if len(widths) != len(blocks):
            raise ValueError(f"widths and blocks need the same length, got {widths} and {blocks}")

        def stage(width: int, count: int) -> nn.Sequential:
            return nn.Sequential(*[ResBlock(width, slope=slope, bias=bias) for _ in range(count)])

        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(len(widths) - 1):
            w, w_next = widths[level], widths[level + 1]
            self.encoders.append(stage(w, blocks[level]))
            self.downs.append(down(w, w_next) if down else nn.Conv2d(w, w_next, 2, stride=2, bias=bias))
            self.ups.append(nn.ConvTranspose2d(w_next, w, 2, stride=2, bias=bias))
            self.decoders.append(stage(w, blocks[level]))
        self.bottleneck = stage(widths[-1], blocks[-1])

    def levels(self, x: torch.Tensor) -> torch.Tensor:
        """Run the head's features ``x`` down the levels and back up, to the top level's width."""
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(reversed(self.ups), reversed(self.decoders), reversed(skips)):
            x = decoder(up(x) + skip)
        return x
