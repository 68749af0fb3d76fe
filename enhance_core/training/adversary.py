"""An adversarial loss term: a small patch discriminator trained beside the network (training only, never shipped).

After the relativistic average GAN of ESRGAN (Wang et al., ECCVW 2018), made
small: four strided 3x3 convolutions give a real/fake logit per patch of about
30 pixels. :meth:`PatchAdversary.generator_loss` is the term the network
minimises (its outputs should look more real than the real pictures, on
average, and the real ones less); :meth:`PatchAdversary.update` takes one
Adam step of the discriminator on detached outputs. The discriminator lives
in the loss, so it is not in the run's checkpoint: a resumed run starts it
afresh (it catches up within a few hundred steps).

With ``shift`` above 1, every call shows the discriminator the pictures cut
at a random offset below ``shift`` pixels. Its strided convolutions then no
longer sit on the same grid as a pixel-shuffle tail's sub-pixel positions, so
a periodic pattern on that grid (a checkerboard) looks fake to it instead of
hiding in its blind spots.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchDiscriminator(nn.Module):
    """Real/fake logits (N, 1, H/8, W/8) of RGB pictures (N, 3, H, W) in [0, 1]."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in (width, 2 * width, 2 * width):
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x - 0.5)


class PatchAdversary:
    """A :class:`PatchDiscriminator` with its optimizer, and the relativistic average losses."""

    def __init__(self, *, width: int = 32, lr: float = 1e-4, shift: int = 1) -> None:
        self.net = PatchDiscriminator(width)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, betas=(0.9, 0.99))
        self.shift = max(1, int(shift))

    def _cut(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``real`` and ``fake`` cut alike at a random offset below :attr:`shift` (unchanged when it is 1)."""
        if self.shift == 1:
            return real, fake
        dy, dx = (int(v) for v in torch.randint(0, self.shift, (2,)))
        rows, cols = real.shape[-2] - self.shift + 1, real.shape[-1] - self.shift + 1
        return real[..., dy:dy + rows, dx:dx + cols], fake[..., dy:dy + rows, dx:dx + cols]

    @staticmethod
    def _relativistic(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Loss for ``first`` to look more real than ``second`` on average, and ``second`` less."""
        ones, zeros = torch.ones_like(first), torch.zeros_like(second)
        return 0.5 * (F.binary_cross_entropy_with_logits(first - second.mean(), ones)
                      + F.binary_cross_entropy_with_logits(second - first.mean(), zeros))

    def generator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The network's adversarial term for its outputs ``fake`` (gradients reach them, not the discriminator)."""
        real, fake = self._cut(real, fake)
        self.net.requires_grad_(False)
        real_logits = self.net(real).detach()
        loss = self._relativistic(self.net(fake), real_logits)
        self.net.requires_grad_(True)
        return loss

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """One discriminator step on ``real`` pictures and detached outputs ``fake``; return its loss."""
        real, fake = self._cut(real, fake.detach())
        loss = self._relativistic(self.net(real), self.net(fake))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())
