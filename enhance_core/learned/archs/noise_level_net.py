"""Noise-level estimator: a small CNN that maps a noisy picture to its per-pixel noise level.

Real camera noise depends on the signal (shadows and highlights differ) and
is spatially correlated and colour-correlated after demosaicing and in-camera
processing, so a white-noise estimator reads it as far too low. This network
(after the noise-estimation stage of CBDNet) learns the local noise standard
deviation from examples of Gaussian and camera noise: a lossless 2x2 pixel
unshuffle, a few 3x3 convolutions at half resolution (about 26 pixels of
context), a softplus so the level is never negative, and a bilinear
upsampling back to the input size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NoiseLevelNet(nn.Module):
    """Per-pixel noise standard deviation of an RGB image.

    Parameters
    ----------
    channels : int
        Image channels (3; gray images are fed as three equal channels).
    width : int
        Feature channels of the hidden convolutions.
    depth : int
        Number of hidden 3x3 convolutions.
    """

    def __init__(self, channels: int = 3, width: int = 16, depth: int = 5) -> None:
        super().__init__()
        self.channels = channels
        layers: list[nn.Module] = [nn.PixelUnshuffle(2), nn.Conv2d(4 * channels, width, 3, padding=1),
                                   nn.ReLU(inplace=True)]
        for _ in range(depth):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.multiple = 2

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """Noise level map (N, 1, H, W) of ``noisy`` (N, C, H, W), both in [0, 1] units; H, W even."""
        level = F.softplus(self.body(noisy - 0.5) - 3.0)
        return F.interpolate(level, size=noisy.shape[2:], mode="bilinear", align_corners=False)
