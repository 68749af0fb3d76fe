"""Damage-segmentation U-Net: per-pixel logits of "this pixel is a crack, scratch, speck or tear".

The network sees the scan after a lossless 2x2 pixel unshuffle (so a 1-pixel
scratch keeps its full-resolution signature in the channels), works down its
levels for context (four levels: about 150 pixels, enough to tell a catchlight
in an eye or a letter from a speck of dust; five, as the shipped colour weights:
about 300), and returns one logit per
input pixel through a pixel shuffle. It is small on purpose: a 24-megapixel
scan must be segmented in seconds on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from enhance_core.learned.archs.unet import UNetLevels


class DamageUNet(UNetLevels):
    """U-Net that maps an RGB scan to damage logits.

    Parameters
    ----------
    channels : int
        Image channels (3; gray scans are fed as three equal channels).
    widths : tuple of int
        Feature channels per level, from the half-resolution level down.
    blocks : tuple of int
        Residual blocks per encoder and per decoder level (same length as
        ``widths``); the last entry is the bottleneck.
    """

    def __init__(
        self,
        channels: int = 3,
        widths: tuple[int, ...] = (16, 32, 64, 128),
        blocks: tuple[int, ...] = (1, 1, 2, 2),
    ) -> None:
        super().__init__()
        self.channels = channels
        self.head = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(4 * channels, widths[0], 3, padding=1),
                                  nn.LeakyReLU(0.1, inplace=True))
        self.build_levels(widths, blocks, slope=0.1, down=lambda w, w_next: nn.Sequential(
            nn.Conv2d(w, w_next, 2, stride=2), nn.LeakyReLU(0.1, inplace=True)))
        self.tail = nn.Sequential(nn.Conv2d(widths[0], 4, 3, padding=1), nn.PixelShuffle(2))
        self.multiple = 2 ** len(widths)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Return damage logits (N, 1, H, W) for ``image`` (N, C, H, W) in [0, 1] units.

        H and W must be multiples of :attr:`multiple`.
        """
        x = self.head(image - 0.5)
        x = self.levels(x)
        return self.tail(x)
