"""Noise-level-conditioned U-Net denoiser (a compact DRUNet).

The network sees the noisy image and a per-pixel noise-level map, works at half
resolution after a pixel unshuffle, and predicts the residual noise. Residual
blocks are bias-free, which keeps the output well behaved for noise levels
between the ones it was trained on.
"""

from __future__ import annotations

import torch
from torch import nn

from enhance_core.learned.archs.unet import UNetLevels


class DenoiseUNet(UNetLevels):
    """U-Net denoiser conditioned on a noise-level map.

    Parameters
    ----------
    channels : int
        Image channels (3; gray images are fed as three equal channels).
    widths : tuple of int
        Feature channels per level, from the half-resolution level down.
    blocks : tuple of int
        Residual blocks per encoder level and per decoder level (same length as
        ``widths``); the last entry is the bottleneck.
    """

    def __init__(
        self,
        channels: int = 3,
        widths: tuple[int, ...] = (64, 128, 256),
        blocks: tuple[int, ...] = (1, 2, 3),
    ) -> None:
        super().__init__()
        self.channels = channels
        self.head = nn.Sequential(
            nn.PixelUnshuffle(2),
            nn.Conv2d(4 * (channels + 1), widths[0], 3, padding=1, bias=False),
        )
        self.build_levels(widths, blocks, bias=False)
        self.tail = nn.Sequential(
            nn.Conv2d(widths[0], 4 * channels, 3, padding=1, bias=False),
            nn.PixelShuffle(2),
        )
        self.multiple = 2 ** len(widths)

    def forward(self, noisy: torch.Tensor, sigma_map: torch.Tensor) -> torch.Tensor:
        """Denoise ``noisy`` (N, C, H, W) given ``sigma_map`` (N, 1, H, W), both in [0, 1] units.

        H and W must be multiples of :attr:`multiple`.
        """
        x = self.head(torch.cat([noisy, sigma_map], dim=1))
        x = self.levels(x)
        return noisy - self.tail(x)
