"""The given networks (helpers/pretrained.py) are the course UNets: same names, same outputs."""

import json

import pytest
import torch
from safetensors.torch import load_file

import helpers
from helpers import checkpoints, pretrained, unet

PAIRS = [  # (the course UNet students write, the given network, constructor kwargs)
    (unet.UnconditionalUNet, pretrained.PretrainedUNet, {"num_hiddens": 6}),
    (unet.TimeConditionalUNet, pretrained.PretrainedTimeUNet, {"num_hiddens": 6}),
    (unet.ClassConditionalUNet, pretrained.PretrainedClassUNet, {"num_hiddens": 6}),
]


def _inputs(model: torch.nn.Module, B: int = 4) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(B, 1, 28, 28, generator=g), torch.rand(B, generator=g)
    c, mask = torch.randint(0, 10, (B,), generator=g), torch.tensor([1.0, 0.0, 1.0, 0.0])
    if isinstance(model, unet.ClassConditionalUNet):
        return [x, c, t, mask]
    return [x, t] if isinstance(model, unet.TimeConditionalUNet) else [x]


@pytest.mark.parametrize("course, given, kwargs", PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_the_given_network_equals_the_course_unet_on_the_same_weights(course, given, kwargs):
    torch.manual_seed(0)
    solution = course(**kwargs)
    with torch.no_grad():  # random BatchNorm statistics, so that they matter
        for module in solution.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2)
    model = given(**kwargs)
    assert sorted(model.state_dict()) == sorted(solution.state_dict())
    model.load_state_dict(solution.state_dict())
    inputs = _inputs(solution.eval())
    with torch.no_grad():
        assert torch.equal(model.eval()(*inputs), solution(*inputs))


@pytest.mark.parametrize("network", [unet.ClassConditionalUNet, pretrained.PretrainedClassUNet])
def test_both_class_networks_refuse_wrong_conditions_with_what_to_pass(network):
    model = network(num_hiddens=6).eval()
    x, t = torch.randn(3, 1, 28, 28), torch.rand(3)
    with pytest.raises(
        ValueError, match=r"int64 labels in \[0, 9\].*torch.int64 values from 1 to 12"
    ):
        model(x, torch.tensor([1, 2, 12]), t)
    for wrong in (torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1, 2, 3], dtype=torch.uint8)):
        with pytest.raises(ValueError, match="int64 labels in"):
            model(x, wrong, t)
    with pytest.raises(ValueError, match=r"t must have shape \(3,\), one per image"):
        model(x, torch.tensor([1, 2, 3]), t[:2])
    with pytest.raises(ValueError, match=r"mask must have shape \(3,\)"):
        model(x, torch.tensor([1, 2, 3]), t, torch.ones(2))


@pytest.mark.parametrize(
    "name", [n for n in checkpoints.available() if not n.startswith("digit_classifier")]
)
def test_every_shipped_unet_loads_into_the_given_network_with_the_solutions_outputs(name):
    path = checkpoints.checkpoint_path(name)
    manifest = json.loads(path.with_suffix(".json").read_text())
    solution = getattr(unet, manifest["architecture"])(**manifest["kwargs"])
    solution.load_state_dict({k: v.float() for k, v in load_file(path).items()})
    model = checkpoints.load_checkpoint(name)
    assert not isinstance(model, unet.UnconditionalUNet)  # given, not the students' class
    inputs = _inputs(solution.eval())
    with torch.no_grad():
        assert torch.equal(model(*inputs), solution(*inputs))


def test_the_offline_schedule_is_the_cosine_schedule_students_write_and_diffusers_has():
    from diffusers import DDPMScheduler

    expected = helpers.alphas_cumprod(helpers.cosine_betas(1000))
    assert torch.equal(pretrained.cosine_alphas_cumprod(1000), expected)
    for T in (1000, 37):
        reference = DDPMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2")
        assert torch.equal(pretrained.cosine_alphas_cumprod(T), reference.alphas_cumprod)
