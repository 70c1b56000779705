"""The DeepFloyd IF backend, on a tiny randomly initialised IF-shaped pipeline built in code,
saved with save_pretrained and loaded through the same function the real weights use."""

import os

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach a hub

from diffusers import DDPMScheduler, IFPipeline, UNet2DConditionModel  # noqa: E402
from transformers import T5Config, T5EncoderModel, T5Tokenizer  # noqa: E402

import helpers  # noqa: E402
from helpers import deepfloyd, part_a  # noqa: E402

WORDS = "a an the of high quality photo man old campfire people around dog hat".split()
FEW = [990, 660, 330, 90, 0]


def build_tiny_if(path):
    """An IF-shaped pipeline with random weights: 6-channel UNet, 2-layer T5, word tokenizer."""
    torch.manual_seed(0)
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [(f"\u2581{w}", -1.0) for w in WORDS] + [
        (ch, -5.0) for ch in "abcdefghijklmnopqrstuvwxyz0123456789"
    ]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=37, d_kv=8, num_heads=4, num_layers=2)
    ).eval()  # eval: dropout would make a reloaded pipeline disagree
    unet = UNet2DConditionModel(
        sample_size=32,
        layers_per_block=1,
        block_out_channels=[32, 64],
        down_block_types=["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"],
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        up_block_types=["SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"],
        in_channels=3,
        out_channels=6,
        cross_attention_dim=32,
        encoder_hid_dim=32,
        attention_head_dim=8,
        addition_embed_type="text",
        addition_embed_type_num_heads=2,
        cross_attention_norm="group_norm",
        resnet_time_scale_shift="scale_shift",
        act_fn="gelu",
    )
    scheduler = DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        variance_type="learned_range",
        thresholding=True,
        sample_max_value=1.0,
    )
    pipe = IFPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        watermarker=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path)
    return pipe


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-if")
    build_tiny_if(root / "pipeline")
    return deepfloyd.load_deepfloyd(root / "pipeline", device="cpu", cache_dir=root / "cache")


def _g(seed=1):
    return torch.Generator().manual_seed(seed)


def test_loads_as_a_denoiser_with_the_cosine_schedule(tiny):
    assert tiny.image_shape == (3, 32, 32)
    expected = helpers.alphas_cumprod(helpers.cosine_betas(1000))
    torch.testing.assert_close(tiny.alphas_cumprod, expected, rtol=0, atol=1e-6)


def test_prompt_embeddings_are_cached_and_need_no_text_encoder_later(tiny, tmp_path):
    embeds = tiny.encode("a high quality photo")
    assert embeds.shape == (1, 77, 32)
    assert tiny._cache_path("a high quality photo").exists()
    reloaded = deepfloyd.load_deepfloyd(tiny.source, device="cpu", cache_dir=tiny.cache_dir)
    assert reloaded.pipe.text_encoder is None
    torch.testing.assert_close(reloaded.encode("a high quality photo"), embeds)
    assert reloaded.pipe.text_encoder is None  # served from the cache
    assert not torch.allclose(tiny.encode("an old man"), embeds)


def test_predict_splits_noise_and_variance_for_each_prompt_in_one_pass(tiny):
    x_t = torch.randn(2, 3, 32, 32, generator=_g())
    c, u = tiny.encode("a dog"), tiny.encode("")
    (eps_c, var_c), (eps_u, var_u) = tiny.predict(x_t, 500, [c, u])
    assert eps_c.shape == var_c.shape == x_t.shape
    raw = tiny.unet(x_t, 500, encoder_hidden_states=c.expand(2, -1, -1), return_dict=False)[0]
    torch.testing.assert_close(torch.cat([eps_c, var_c], 1), raw, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(eps_c, eps_u)


def test_every_part_a_algorithm_runs_end_to_end(tiny, monkeypatch):
    monkeypatch.setattr(part_a, "strided_timesteps", lambda: FEW)
    x_orig = torch.rand(1, 3, 32, 32, generator=_g(3)) * 2 - 1
    x_t = helpers.forward(x_orig, 330, tiny.alphas_cumprod, generator=_g())
    out = [
        part_a.iterative_denoise(tiny, x_t, 2, timesteps=FEW, generator=_g(), progress=False)[0],
        part_a.iterative_denoise_cfg(tiny, x_t, 2, timesteps=FEW, generator=_g(), progress=False)[
            0
        ],
        part_a.sdedit(tiny, x_orig, 2, "an old man", timesteps=FEW, generator=_g(), progress=False),
        part_a.visual_anagram(
            tiny, "an old man", "people around a campfire", generator=_g(), progress=False
        ),
        part_a.visual_anagram(
            tiny, "an old man", "a dog", view="rot180", generator=_g(), progress=False
        ),
        part_a.hybrid_image(tiny, "a dog", "a man", generator=_g(), progress=False),
    ]
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    inpainted = part_a.inpaint(
        tiny, x_orig, mask, "a hat", timesteps=FEW, generator=_g(), progress=False
    )
    assert torch.equal(inpainted[mask.expand_as(x_orig) == 0], x_orig[mask.expand_as(x_orig) == 0])
    for image in out + [inpainted]:
        assert image.shape == (1, 3, 32, 32) and bool(image.isfinite().all())


def test_missing_weights_and_gpu_give_one_clear_message(tmp_path, monkeypatch):
    with pytest.raises(deepfloyd.DeepFloydUnavailable, match="huggingface-cli login"):
        deepfloyd.load_deepfloyd(tmp_path / "nothing-here", device="cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(deepfloyd.DeepFloydUnavailable, match="CUDA GPU"):
        deepfloyd.load_deepfloyd()
