"""Low-light network: an exposure estimator on a small copy plus a light full-resolution denoiser.

Brightening a dark photo well is two problems of very different cost:

* *how much* to brighten, which needs the whole picture but little detail:
  :class:`ExposureNet` looks at a copy about 128 pixels across (in log
  linear light, so a darker exposure is a shift, not a scale) and predicts a
  coarse field of log2 gains (one cell per 16 small-copy pixels, smooth
  across the frame) plus global per-channel white-balance gains. The field
  is interpolated bicubically to full resolution, so it has no edges that
  could show as halos;
* *cleaning the noise* that the gain reveals, which needs every pixel but
  little context: :class:`GainDenoiser` is a small U-Net that runs after a
  4x4 pixel unshuffle, told the log2 gain each pixel received.

:class:`LowLightNet` holds both so one weights file carries the model.
"""

from __future__ import annotations

import torch
from torch import nn

from enhance_core.learned.archs.unet import UNetLevels


def conv_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """A 3x3 convolution (optionally strided) followed by a ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU(inplace=True))


class ExposureNet(nn.Module):
    """Predict a coarse log2-gain field and white-balance gains from a small log-linear copy.

    Parameters
    ----------
    width : int
        Feature channels at 1/4 of the small copy; 1/2 has half, 1/8 and 1/16 twice as many.
    """

    cell = 16

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w2 = 2 * width
        self.features = nn.Sequential(
            conv_relu(3, width // 2, 2), conv_relu(width // 2, width // 2),
            conv_relu(width // 2, width, 2), conv_relu(width, width),
            conv_relu(width, w2, 2), conv_relu(w2, w2),
            conv_relu(w2, w2, 2), conv_relu(w2, w2),
        )
        self.global_mlp = nn.Sequential(nn.Linear(2 * w2, w2), nn.ReLU(inplace=True), nn.Linear(w2, w2),
                                        nn.ReLU(inplace=True))
        self.global_gain = nn.Linear(w2, 4)
        self.local_gain = nn.Sequential(conv_relu(2 * w2, w2), nn.Conv2d(w2, 1, 3, padding=1))

    def forward(self, small_log: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (log2-gain field (N, 1, rows/16, cols/16), white-balance log2 gains (N, 3)).

        ``small_log`` is (N, 3, rows, cols) with rows and cols multiples of 16:
        ``log2(linear + 2**-12) / 8 + 1`` of the dark image's small copy.
        """
        feats = self.features(small_log)
        pooled = torch.cat([feats.mean(dim=(2, 3)), feats.amax(dim=(2, 3))], dim=1)
        context = self.global_mlp(pooled)
        head = self.global_gain(context)
        broadcast = context[:, :, None, None].expand(-1, -1, *feats.shape[2:])
        local = self.local_gain(torch.cat([feats, broadcast], dim=1))
        wb = head[:, 1:] - head[:, 1:].mean(dim=1, keepdim=True)
        return head[:, :1, None, None] + local, wb


class GainDenoiser(UNetLevels):
    """Small U-Net after a 4x4 pixel unshuffle that removes the noise a gain revealed.

    Parameters
    ----------
    widths : tuple of int
        Feature channels per level, from 1/4 resolution down.
    blocks : tuple of int
        Residual blocks per encoder and decoder level; the last entry is the bottleneck.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64), blocks: tuple[int, ...] = (1, 2)) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.PixelUnshuffle(4), nn.Conv2d(16 * 4, widths[0], 3, padding=1, bias=False))
        self.build_levels(widths, blocks, bias=False)
        self.tail = nn.Sequential(nn.Conv2d(widths[0], 16 * 3, 3, padding=1, bias=False), nn.PixelShuffle(4))
        self.multiple = 4 * 2 ** (len(widths) - 1)

    def forward(self, bright: torch.Tensor, log_gain: torch.Tensor) -> torch.Tensor:
        """Denoise ``bright`` (N, 3, H, W) sRGB given the log2 gain (N, 1, H, W) each pixel got.

        H and W must be multiples of :attr:`multiple`.
        """
        x = self.head(torch.cat([bright, log_gain * 0.25], dim=1))
        x = self.levels(x)
        return bright - self.tail(x)


class LowLightNet(nn.Module):
    """Exposure estimator plus denoiser; constructor arguments equal the config keys.

    Parameters
    ----------
    exposure_width : int
        ``width`` of :class:`ExposureNet`.
    denoise_widths, denoise_blocks : tuple of int
        ``widths`` and ``blocks`` of :class:`GainDenoiser`.
    small_side : int
        Long side, in pixels, of the copy the exposure is estimated on (a multiple of 16).
    """

    def __init__(
        self,
        exposure_width: int = 32,
        denoise_widths: tuple[int, ...] = (32, 64),
        denoise_blocks: tuple[int, ...] = (1, 2),
        small_side: int = 128,
    ) -> None:
        super().__init__()
        if small_side % ExposureNet.cell:
            raise ValueError(f"small_side must be a multiple of {ExposureNet.cell}, got {small_side}")
        self.small_side = small_side
        self.exposure = ExposureNet(exposure_width)
        self.denoiser = GainDenoiser(tuple(denoise_widths), tuple(denoise_blocks))
