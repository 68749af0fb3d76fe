"""Super-resolution network: a small residual CNN at the low resolution with one sub-pixel tail per scale.

After ESPCN and EDSR-baseline, made small enough for a CPU: a 3x3 head, a few
residual blocks (conv, ReLU, conv) and a 3x3 body convolution all run at the
*input* resolution; each enlargement factor has its own tail, a 3x3
convolution to ``3 * scale**2`` channels that a pixel shuffle turns into the
enlarged picture's detail. That detail is added to a bicubic enlargement,
so the network only learns what bicubic misses (fast to train; the tails
start at zero, so an untrained network returns bicubic). A fourth input channel tells the network
what the input went through: 0 for a clean downscale, 1 for a real scan
(blur, noise, JPEG), so one network serves both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _ResBlock(nn.Module):
    """conv-ReLU-conv with an identity skip."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x), inplace=True))


class SuperResNet(nn.Module):
    """Enlarge an RGB picture by 2 or 4.

    Parameters
    ----------
    channels : int
        Image channels (3; gray pictures are fed as three equal channels).
    width : int
        Feature channels.
    blocks : int
        Residual blocks.
    scales : list of int
        Enlargement factors, one tail each.
    """

    def __init__(self, channels: int = 3, width: int = 32, blocks: int = 4, scales: tuple[int, ...] = (2, 4)) -> None:
        super().__init__()
        self.channels = channels
        self.scales = tuple(int(s) for s in scales)
        self.head = nn.Conv2d(channels + 1, width, 3, padding=1)
        self.blocks = nn.Sequential(*[_ResBlock(width) for _ in range(blocks)])
        self.body = nn.Conv2d(width, width, 3, padding=1)
        tails = {str(s): nn.Conv2d(width, channels * s * s, 3, padding=1) for s in self.scales}
        with torch.no_grad():
            for tail in tails.values():
                for weight in tail.parameters():
                    weight.zero_()
        self.tails = nn.ModuleDict(tails)
        self.multiple = 1
        self.reach = blocks * 2 + 3
        """Input pixels of context each output pixel sees on every side."""

    def detail(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        """Sub-pixel detail (N, channels * scale**2, H, W) of ``x`` (N, channels + 1, H, W): picture, then kind."""
        if scale not in self.scales:
            raise ValueError(f"scale {scale} has no tail; this network enlarges by {self.scales}")
        features = self.head(x)
        features = features + self.body(self.blocks(features))
        return self.tails[str(scale)](features)

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        """Enlarged picture (N, channels, scale * H, scale * W) of ``x`` (N, channels + 1, H, W)."""
        picture = x[:, : self.channels]
        upscaled = F.interpolate(picture, scale_factor=scale, mode="bicubic", align_corners=False)
        return upscaled + F.pixel_shuffle(self.detail(x, scale), scale)
