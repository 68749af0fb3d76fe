"""Hole-filling U-Net that refines a smooth pre-fill (a compact gated U-Net).

The network sees an image whose holes were already filled smoothly (the
push-pull pre-fill of :func:`enhance_core.learned.prefill.push_pull_fill`) and
the hole mask, works at half resolution after a lossless pixel unshuffle, and
predicts a residual that adds texture and structure to the pre-fill (the
last convolution starts at zero, so an untrained network returns the
pre-fill). Every
level starts with a gated convolution (features times a learned sigmoid gate,
as in DeepFill v2), so the network can tell filled from known content; the
rest are residual blocks. The caller keeps the known pixels exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from enhance_core.learned.archs.unet import UNetLevels


class GatedConv(nn.Module):
    """3x3 convolution whose output is ``act(features) * sigmoid(gate)``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, 3, stride=stride, padding=1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).split(self.out_channels, dim=1)
        return self.act(features) * torch.sigmoid(gate)


class InpaintUNet(UNetLevels):
    """U-Net that turns a smoothly pre-filled image into a detailed fill.

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
        widths: tuple[int, ...] = (16, 32, 64, 128),
        blocks: tuple[int, ...] = (1, 1, 2, 2),
    ) -> None:
        super().__init__()
        self.channels = channels
        self.head = nn.Sequential(nn.PixelUnshuffle(2), GatedConv(4 * (channels + 1), widths[0]))
        self.build_levels(widths, blocks, slope=0.2, down=lambda w, w_next: GatedConv(w, w_next, stride=2))
        out = nn.Conv2d(widths[0], 4 * channels, 3, padding=1)
        assert out.bias is not None  # bias=True (the default)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.tail = nn.Sequential(out, nn.PixelShuffle(2))
        self.multiple = 2 ** len(widths)

    def forward(self, prefilled: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Fill ``prefilled`` (N, C, H, W) inside ``hole`` (N, 1, H, W; 1 = missing), in [0, 1] units.

        Returns the pre-fill plus the predicted residual everywhere; the caller
        composites it with the known pixels. H and W must be multiples of
        :attr:`multiple`.
        """
        x = self.head(torch.cat([prefilled, hole], dim=1))
        x = self.levels(x)
        return prefilled + self.tail(x)
