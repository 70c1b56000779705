"""The course UNets: exact architecture, conditioning paths and input checks."""

import pytest
import torch
from torch import nn

from helpers import unet


def _x(B=3):
    return torch.rand(B, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_blocks_have_the_course_layers_and_sizes():
    x = torch.rand(2, 8, 14, 14)
    assert unet.Conv(8, 4)(x).shape == (2, 4, 14, 14)
    assert unet.DownConv(8, 4)(x).shape == (2, 4, 7, 7)
    assert unet.UpConv(8, 4)(x).shape == (2, 4, 28, 28)
    assert unet.Flatten()(torch.rand(2, 8, 7, 7)).shape == (2, 8, 1, 1)
    assert unet.Unflatten(8)(torch.rand(2, 8, 1, 1)).shape == (2, 8, 7, 7)
    assert unet.FCBlock(1, 16)(torch.rand(2, 1)).shape == (2, 16, 1, 1)
    assert [type(m) for m in unet.Conv(8, 4)] == [nn.Conv2d, nn.BatchNorm2d, nn.GELU]
    conv = unet.DownConv(8, 4)[0]
    assert conv.kernel_size == (3, 3) and conv.stride == (2, 2) and conv.padding == (1, 1)
    up = unet.UpConv(8, 4)[0]
    assert isinstance(up, nn.ConvTranspose2d) and up.kernel_size == (4, 4) and up.stride == (2, 2)


def test_the_last_layer_is_a_bare_convolution():
    model = unet.UnconditionalUNet(1, 8)
    assert isinstance(model.head, nn.Conv2d) and model.head.kernel_size == (3, 3)
    assert list(model.children())[-1] is model.head


@pytest.mark.parametrize("D", [8, 16])
def test_models_map_digits_to_digits(D):
    x, t, c = _x(), torch.rand(3), torch.tensor([0, 5, 9])
    assert unet.UnconditionalUNet(1, D)(x).shape == x.shape
    assert unet.TimeConditionalUNet(1, D)(x, t).shape == x.shape
    assert unet.ClassConditionalUNet(1, 10, D)(x, c, t).shape == x.shape


def test_time_and_class_change_the_output_and_mask_zero_drops_the_class():
    torch.manual_seed(0)
    model = unet.ClassConditionalUNet(1, 10, 8).eval()
    x, t = _x(2), torch.tensor([0.2, 0.2])
    c_a, c_b = torch.tensor([1, 1]), torch.tensor([7, 7])
    out = model(x, c_a, t)
    assert not torch.allclose(out, model(x, c_b, t))
    assert not torch.allclose(out, model(x, c_a, torch.tensor([0.9, 0.9])))
    dropped = torch.zeros(2)
    torch.testing.assert_close(model(x, c_a, t, dropped), model(x, c_b, t, dropped))
    torch.testing.assert_close(model(x, c_a, t, torch.ones(2)), out)


def test_wrong_inputs_get_clear_errors():
    model = unet.ClassConditionalUNet(1, 10, 8)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model(torch.rand(3, 1, 32, 32), torch.tensor([1, 2, 3]), torch.rand(3))
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        unet.UnconditionalUNet(1, 8)(torch.rand(1, 28, 28))
    with pytest.raises(ValueError, match="t must have shape"):
        model(_x(), torch.tensor([1, 2, 3]), torch.rand(2))
    with pytest.raises(ValueError, match="labels"):
        model(_x(), torch.tensor([1, 2, 10]), torch.rand(3))
