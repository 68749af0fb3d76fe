"""The U-Net levels the denoiser, hole fill, damage detector and low-light denoiser share."""

from __future__ import annotations

import pytest
import torch

from enhance_core.learned.archs.damage_unet import DamageUNet
from enhance_core.learned.archs.denoise_unet import DenoiseUNet
from enhance_core.learned.archs.inpaint_unet import InpaintUNet
from enhance_core.learned.archs.lowlight_net import GainDenoiser


@pytest.mark.parametrize("net", [DamageUNet, DenoiseUNet, InpaintUNet, GainDenoiser])
def test_widths_and_blocks_of_other_lengths_are_refused(net: type) -> None:
    with pytest.raises(ValueError, match=r"same length, got \(8, 16\) and \(1,\)"):
        net(widths=(8, 16), blocks=(1,))


@pytest.mark.parametrize("net", [DamageUNet, DenoiseUNet, InpaintUNet])
def test_every_level_and_block_is_built_and_the_output_keeps_the_input_size(net: type) -> None:
    model = net(widths=(4, 8, 12), blocks=(1, 2, 3))
    names = {name for name, _ in model.named_parameters()}
    assert len(model.encoders) == len(model.decoders) == 2
    assert [len(stage) for stage in model.encoders] == [1, 2]
    assert len(model.bottleneck) == 3
    assert any(name.startswith("encoders.1.1.body.2.") for name in names)
    image = torch.rand(1, 3, 2 * model.multiple, 3 * model.multiple)
    second = torch.rand(1, 1, *image.shape[2:])
    with torch.no_grad():
        out = model(image) if net is DamageUNet else model(image, second)
    assert out.shape[2:] == image.shape[2:]
