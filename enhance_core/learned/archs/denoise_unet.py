"""Noise-level-conditioned U-Net denoiser (a compact DRUNet).

The network sees the noisy image and a per-pixel noise-level map, works at half
resolution after a pixel unshuffle, and predicts the residual noise. Residual
blocks are bias-free, which keeps the output well behaved for noise levels
between the ones it was trained on.
"""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    """Two bias-free 3x3 convolutions with a ReLU between and an identity skip."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DenoiseUNet(nn.Module):
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
        if len(widths) != len(blocks):
            raise ValueError(f"widths and blocks need the same length, got {widths} and {blocks}")
        self.channels = channels
        self.head = nn.Sequential(
            nn.PixelUnshuffle(2),
            nn.Conv2d(4 * (channels + 1), widths[0], 3, padding=1, bias=False),
        )
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(len(widths) - 1):
            w, w_next = widths[level], widths[level + 1]
            self.encoders.append(nn.Sequential(*[ResBlock(w) for _ in range(blocks[level])]))
            self.downs.append(nn.Conv2d(w, w_next, 2, stride=2, bias=False))
            self.ups.append(nn.ConvTranspose2d(w_next, w, 2, stride=2, bias=False))
            self.decoders.append(nn.Sequential(*[ResBlock(w) for _ in range(blocks[level])]))
        self.bottleneck = nn.Sequential(*[ResBlock(widths[-1]) for _ in range(blocks[-1])])
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
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(reversed(self.ups), reversed(self.decoders), reversed(skips)):
            x = decoder(up(x) + skip)
        return noisy - self.tail(x)
