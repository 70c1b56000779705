"""Flow matching (part B since 2025): the path's endpoints, the target, the loss, Euler steps and
the sampler on analytic velocity fields, guidance, and the multiplicative time UNet.

Analytic oracles: for a one-point data set x_data, the exact velocity field is
u(x_t, t) = (x_data - x_t) / (1 - t) (the straight line from x_t to x_data, arriving at t = 1),
and Euler steps on it land exactly on x_data; on a constant field u, x_1 = x_t + (1 - t) u.
"""

import math

import pytest
import torch

import helpers
from helpers import flow
from helpers.unet import FlowTimeUNet


def _pair(B=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_data = torch.rand(B, 1, 28, 28, generator=g)
    return torch.randn(x_data.shape, generator=g), x_data  # x_noise, x_data


def test_interpolate_starts_at_the_noise_and_ends_at_the_data():
    x_noise, x_data = _pair()
    B = len(x_data)
    torch.testing.assert_close(helpers.interpolate(x_noise, x_data, torch.zeros(B)), x_noise)
    torch.testing.assert_close(helpers.interpolate(x_noise, x_data, torch.ones(B)), x_data)


def test_interpolate_is_the_straight_line_with_one_time_per_image():
    x_noise, x_data = _pair(seed=1)
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    x_t = helpers.interpolate(x_noise, x_data, t)
    for i, t_i in enumerate(t.tolist()):  # each image at its own time
        torch.testing.assert_close(x_t[i], (1 - t_i) * x_noise[i] + t_i * x_data[i])


def test_velocity_target_is_data_minus_noise_the_derivative_of_the_path():
    x_noise, x_data = _pair(seed=2)
    target = helpers.velocity_target(x_noise, x_data)
    torch.testing.assert_close(target, x_data - x_noise)
    t, dt = torch.full((4,), 0.3), 1e-2  # d x_t / dt by a finite difference (exact: a line)
    slope = (
        helpers.interpolate(x_noise, x_data, t + dt) - helpers.interpolate(x_noise, x_data, t)
    ) / dt
    torch.testing.assert_close(slope, target, rtol=1e-4, atol=1e-4)


def test_flow_loss_is_zero_for_the_exact_velocity_and_sees_x_t_and_t():
    x_noise, x_data = _pair(seed=3)
    t = torch.tensor([0.1, 0.4, 0.7, 0.95])
    seen = {}

    def exact(x_t, t_in):  # the velocity of the straight line through the pair it knows
        seen.update(x_t=x_t, t=t_in)
        return x_data - x_noise

    assert helpers.flow_loss(exact, x_data, x_noise, t).item() == pytest.approx(0, abs=1e-10)
    torch.testing.assert_close(seen["x_t"], helpers.interpolate(x_noise, x_data, t))
    torch.testing.assert_close(seen["t"], t)
    zero = helpers.flow_loss(lambda x_t, t_in: torch.zeros_like(x_t), x_data, x_noise, t)
    assert zero.item() == pytest.approx((x_data - x_noise).pow(2).mean().item(), rel=1e-5)


def test_class_flow_loss_passes_labels_time_and_mask_in_the_course_order():
    x_noise, x_data = _pair(seed=4)
    t, c, mask = torch.rand(4), torch.tensor([3, 1, 4, 1]), torch.tensor([1, 0, 1, 1])
    seen = {}

    def model(x_t, c_in, t_in, mask_in):
        seen.update(c=c_in, t=t_in, mask=mask_in)
        return torch.zeros_like(x_t)

    loss = helpers.flow_loss(model, x_data, x_noise, t, c, mask)
    assert loss.item() == pytest.approx((x_data - x_noise).pow(2).mean().item(), rel=1e-5)
    assert torch.equal(seen["c"], c) and torch.equal(seen["mask"], mask)
    torch.testing.assert_close(seen["t"], t)


def test_euler_step_on_a_constant_field_lands_on_the_analytic_endpoint():
    x_t, u = _pair(seed=5)
    torch.testing.assert_close(helpers.euler_step(x_t, u, 0.25, 0.75), x_t + 0.5 * u)
    times = flow.flow_times(7, 0.3)  # 0.3, 0.3 + 1/7, ..., 1.0 (a shorter last step)
    x = x_t
    for t, t_next in zip(times[:-1], times[1:], strict=True):
        x = helpers.euler_step(x, u, t, t_next)
    torch.testing.assert_close(x, x_t + 0.7 * u, rtol=1e-5, atol=1e-5)


def test_flow_sample_on_a_constant_field_lands_on_the_analytic_endpoint():
    x_t, u = _pair(seed=5)
    x_1 = helpers.flow_sample(lambda x, t: u, x_t, 7, progress=False)  # 7 steps of 1/7
    torch.testing.assert_close(x_1, x_t + u, rtol=1e-5, atol=1e-5)


def test_euler_step_refuses_a_step_backwards_in_time():
    x_t, u = _pair(seed=6)
    with pytest.raises(ValueError, match="forward in time"):
        helpers.euler_step(x_t, u, 0.5, 0.25)


@pytest.mark.parametrize("num_ts, t_start", [(1, 0.0), (10, 0.0), (50, 0.0), (10, 0.35)])
def test_flow_sample_with_the_exact_field_of_one_digit_lands_on_it(num_ts, t_start):
    x_noise, x_data = _pair(seed=7)

    def exact(x_t, t):  # straight from x_t to x_data, arriving at t = 1
        return (x_data - x_t) / (1 - t)

    x_1 = helpers.flow_sample(exact, x_noise, num_ts, t_start=t_start, progress=False)
    torch.testing.assert_close(x_1, x_data, rtol=1e-5, atol=1e-5)


def test_flow_alphas_cumprod_puts_timestep_k_at_flow_time_t_minus_1_minus_k_over_t():
    abar = flow.flow_alphas_cumprod(20).double()
    s, n = abar.sqrt(), (1 - abar).sqrt()
    times = (19 - torch.arange(20, dtype=torch.float64)) / 20  # 0.95, 0.9, ..., 0.05, 0
    torch.testing.assert_close(s[:-1] / (s + n)[:-1], times[:-1], rtol=0, atol=1e-6)
    assert abar[-1].item() == pytest.approx(1e-6)  # pure noise, up to a computable x0_hat
    assert bool((abar[1:] < abar[:-1]).all())


def test_ddim_on_the_flows_schedule_is_the_euler_sampler_and_ddpm_lands_on_one_digit():
    from helpers.sampling import sample

    x_noise, x_data = _pair(seed=8)
    times = []

    def field(x_t, t):  # a smooth field that is no flow's exact one
        times.append(float(t))
        return (x_data - x_t) * (1 + t) + 0.3 * torch.sin(3 * x_t)

    def exact(x_t, t):
        return (x_data - x_t) / (1 - t)

    abar = flow.flow_alphas_cumprod(10)
    ddim, _ = sample(flow.flow_eps_model(field, abar), x_noise, list(range(9, -1, -1)), abar, 0.0)
    assert len(times) == 10  # as many evaluations as Euler's 10 steps, at its times
    torch.testing.assert_close(torch.tensor(times), torch.arange(10) / 10, rtol=0, atol=1e-3)
    euler = flow.flow_sample(field, x_noise, 10, progress=False)
    torch.testing.assert_close(ddim, euler, rtol=0, atol=5e-3)  # t = 0.001, not 0, at the start
    g = torch.Generator().manual_seed(0)
    ddpm, _ = sample(flow.flow_eps_model(exact, abar), x_noise, list(range(9, -1, -1)), abar, 1, g)
    torch.testing.assert_close(ddpm, x_data, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    "num_ts, t_start, expected",
    [
        (5, 0.0, [0.0, 0.2, 0.4, 0.6, 0.8]),
        (10, 0.35, [0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95]),  # the last step is 0.05
        (10, 0.3, [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),  # 0.3 + 7 / 10 is 1 up to round-off
        (3, 0.0, [0.0, 1 / 3, 2 / 3]),
    ],
)
def test_flow_sample_evaluates_at_t_start_plus_i_over_num_ts_and_ends_at_1(
    num_ts, t_start, expected
):
    times, seen_x = [], []

    def model(x_t, t):
        times.append(float(t))
        seen_x.append(x_t)
        return torch.ones_like(x_t)

    x_start = torch.zeros(2, 1, 4, 4)
    x_1 = helpers.flow_sample(model, x_start, num_ts, t_start=t_start, progress=False)
    assert len(times) == len(expected) == math.ceil(round((1 - t_start) * num_ts, 9))
    torch.testing.assert_close(torch.tensor(times), torch.tensor(expected), rtol=0, atol=1e-9)
    torch.testing.assert_close(x_1, torch.full_like(x_1, 1 - t_start))  # total step 1 - t_start
    assert flow.flow_times(num_ts, t_start)[-1] == 1.0


def test_flow_times_refuse_bad_arguments():
    for num_ts, t_start in [(0, 0.0), (2.5, 0.0), (10, 1.0), (10, -0.1)]:
        with pytest.raises(ValueError):
            flow.flow_times(num_ts, t_start)


def _class_field(x_t, c, t, mask):
    """A class-conditioned velocity: depends on x_t, the label (when kept) and t."""
    kept = (c.float() * mask.float()).view(-1, 1, 1, 1)
    return 0.5 * torch.tanh(x_t) + 0.3 * kept + 0.1 * t.view(-1, 1, 1, 1)


def test_guided_velocity_with_gamma_1_is_the_conditional_estimate():
    x_t, _ = _pair(seed=8)
    t, c = torch.full((4,), 0.4), torch.tensor([2, 5, 7, 9])
    u_cond = _class_field(x_t, c, t, torch.ones(4))
    u_uncond = _class_field(x_t, c, t, torch.zeros(4))
    torch.testing.assert_close(helpers.guided_velocity(_class_field, x_t, t, c, 1.0), u_cond)
    torch.testing.assert_close(helpers.guided_velocity(_class_field, x_t, t, c, 0.0), u_uncond)
    torch.testing.assert_close(
        helpers.guided_velocity(_class_field, x_t, t, c, 5.0), u_uncond + 5 * (u_cond - u_uncond)
    )


def test_guided_velocity_runs_one_batched_pass():
    x_t, _ = _pair(seed=9)
    calls = []

    def model(x, c, t, mask):
        calls.append((len(x), mask.tolist()))
        return _class_field(x, c, t, mask)

    helpers.guided_velocity(model, x_t, torch.full((4,), 0.5), torch.arange(4), 5.0)
    assert calls == [(8, [1.0] * 4 + [0.0] * 4)]


def test_flow_time_unet_maps_digits_to_digits_and_multiplies_by_the_time_embedding():
    torch.manual_seed(0)
    model = FlowTimeUNet(1, 8).eval()
    x, t = torch.rand(3, 1, 28, 28), torch.tensor([0.0, 0.5, 1.0])
    with torch.no_grad():
        out = model(x, t)
        assert out.shape == x.shape and bool(out.isfinite().all())
        assert not torch.allclose(model(x, torch.full((3,), 0.9)), out)  # t matters
        for embed in (model.t_embed1, model.t_embed2):  # zero embeddings: t1 = t2 = 0
            embed[2].weight.zero_()
            embed[2].bias.zero_()
        zeroed = model(x, t)
        # u0 = 0 and u1 = 0: the output no longer depends on the 7x7 and 14x14 up path, so
        # the same as a trunk whose modulated activations are scaled by 0 (not shifted by 0)
        torch.testing.assert_close(zeroed, model.trunk(x, scale1=0.0, scale2=0.0))
        assert not torch.allclose(zeroed, model.trunk(x))


def test_the_given_flow_unet_computes_what_flow_time_unet_computes():
    from helpers.pretrained import PretrainedFlowTimeUNet

    torch.manual_seed(0)
    mine = FlowTimeUNet(1, 8).eval()
    given = PretrainedFlowTimeUNet(1, 8).eval()
    given.load_state_dict(mine.state_dict())
    x, t = torch.rand(2, 1, 28, 28), torch.tensor([0.2, 0.8])
    with torch.no_grad():
        torch.testing.assert_close(given(x, t), mine(x, t))


def test_guided_velocity_in_flow_digits_from_untrained_models_are_seeded_and_in_range():
    from helpers.unet import ClassConditionalUNet

    labels = torch.tensor([0, 1, 2])
    for kind, model in [
        ("flow_time", FlowTimeUNet(1, 8)),
        ("flow_class", ClassConditionalUNet(1, 10, 8)),
    ]:
        model.eval()
        a = flow.flow_digits(model, kind, labels, num_ts=3, gamma=5.0, progress=False)
        b = flow.flow_digits(model, kind, labels, num_ts=3, gamma=5.0, progress=False)
        assert a.shape == (3, 1, 28, 28) and a.min() >= 0 and a.max() <= 1
        torch.testing.assert_close(a, b)


def test_reflow_pairs_are_the_noise_and_where_the_models_flow_takes_it():
    from helpers.unet import ClassConditionalUNet

    model, labels = ClassConditionalUNet(1, 10, 8).eval(), torch.tensor([3, 7])
    pairs = flow.reflow_pairs(model, labels, num_ts=4, seed=5)
    x_noise = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    assert pairs.shape == (2, 2, 28, 28) and torch.equal(pairs[:, :1], x_noise)
    landed = flow.flow_digits(model, "flow_class", labels, 4, 1.0, seed=5, progress=False)
    torch.testing.assert_close(pairs[:, 1:], landed)


def test_a_reflow_run_starts_from_its_checkpoint_and_trains_on_the_paired_noise(
    tmp_path, monkeypatch
):
    from dataclasses import replace

    from helpers import checkpoints, training
    from helpers.unet import ClassConditionalUNet

    teacher = ClassConditionalUNet(1, 10, 4).eval()
    base = training.TrainConfig("flow_class", num_hiddens=4, batch_size=8, epochs=1)
    kwargs = training.model_kwargs(base)
    checkpoints.export_checkpoint(teacher, kwargs, tmp_path / "teacher", metrics={})
    config = replace(base, reflow_from=str(tmp_path / "teacher.safetensors"), reflow_steps=2)
    monkeypatch.setattr(training, "REFLOW_PAIRS", 16)
    pairs, labels = training.reflow_data(config, tmp_path / "run", chunk=8)
    assert pairs.shape == (16, 2, 28, 28) and sorted((tmp_path / "run" / "pairs").iterdir())
    again, _ = training.reflow_data(config, tmp_path / "run", chunk=8)  # read, not made again
    assert torch.equal(again, pairs)
    state = training.new_state(config, torch.device("cpu"))
    for name, weight in teacher.state_dict().items():  # float16 on disk
        torch.testing.assert_close(state.model.state_dict()[name], weight, atol=1e-3, rtol=1e-3)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    loss = training.loss_on_batch(state.model, config, pairs[:8], labels[:8], None, g1)
    t = torch.rand(8, generator=g2)
    mask = (torch.rand(8, generator=g2) >= config.p_uncond).float()
    expected = flow.flow_loss(state.model, pairs[:8, 1:], pairs[:8, :1], t, labels[:8], mask)
    torch.testing.assert_close(loss, expected)
    training.train(config, pairs, labels, tmp_path / "run", "cpu", False)
    from tools.checkpoints import export_run

    export_run("flow_class_reflow", tmp_path / "run", [1], n=10, out=tmp_path)
    path = tmp_path / "flow_class_reflow_epoch01.safetensors"
    metrics = checkpoints.load_checkpoint(path).manifest["metrics"]
    after, before = metrics["few_steps"], metrics["few_steps_before_reflow"]
    assert sorted(after) == sorted(before) == ["1", "2", "5"] and after["1"]["n"] == 10
    assert after["1"]["frechet"] != before["1"]["frechet"]
