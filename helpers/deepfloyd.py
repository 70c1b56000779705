"""DeepFloyd IF through diffusers: the one module of the kit that knows about pipelines.

Stage I (64x64 pixels) is the part A denoiser for users with a GPU and the weights; stage II
(256x256) optionally upsamples its results. The course loads both in fp16 on CUDA without the
text encoder and precomputes prompt embeddings; here each prompt's T5 embedding is computed once
(the text encoder is loaded only for prompts not yet cached) and kept on disk, so later sessions
need no T5 at all.

Getting the weights: accept the licence on the model card of DeepFloyd/IF-I-XL-v1.0 on Hugging
Face, create an access token, run `hf auth login`, and have a CUDA GPU (about 16 GB for
stage I with the text encoder, less without it). Or pass a local directory holding the pipeline.
"""

import hashlib
import os
from pathlib import Path

import torch
from torch import Tensor

from helpers._checks import check_prompt

STAGE_1 = "DeepFloyd/IF-I-L-v1.0"
STAGE_2 = "DeepFloyd/IF-II-L-v1.0"
DEFAULT_CACHE = Path(__file__).resolve().parent.parent / "data" / "prompt_embeddings"
HOW_TO = (
    "To use DeepFloyd IF: accept the licence on https://huggingface.co/DeepFloyd/IF-I-XL-v1.0, run"
    " `hf auth login` with an access token (`huggingface-cli login` with huggingface_hub before"
    " 1.0), and use a machine with a CUDA GPU; or pass a local directory that holds the pipeline."
    " The notebooks fall back to the offline model."
)


class DeepFloydUnavailable(RuntimeError):
    """DeepFloyd IF cannot be used here; the message says why and what to do."""


class DeepFloydIF:
    """Stage I of DeepFloyd IF behind the kit's denoiser interface (see helpers.denoiser).

    predict returns the UNet's 6 output channels split into the noise estimate (3) and the
    learned-range variance (3), which the strided step turns into v_sigma.
    """

    def __init__(self, pipe, source: str, cache_dir: Path):
        self.pipe, self.unet, self.source = pipe, pipe.unet, str(source)
        self.device, self.dtype = pipe.unet.device, pipe.unet.dtype
        self.alphas_cumprod = pipe.scheduler.alphas_cumprod.float()
        size = pipe.unet.config.sample_size
        self.image_shape = (pipe.unet.config.in_channels, size, size)
        self.name = f"DeepFloyd IF stage I ({size}x{size})"
        self.checkpoint = str(source)
        self.cache_dir = Path(cache_dir)

    def _cache_path(self, prompt: str) -> Path:
        key = hashlib.sha256(f"{self.source}\n{prompt}".encode()).hexdigest()[:20]
        return self.cache_dir / f"{key}.safetensors"

    def encode(self, prompt: str) -> Tensor:
        """T5 embedding (1, 77, D) of a prompt, from the disk cache or computed once and cached."""
        from safetensors.torch import load_file, save_file

        check_prompt(prompt)
        path = self._cache_path(prompt)
        if not path.exists():
            if self.pipe.text_encoder is None:
                self._load_text_encoder()
            with torch.no_grad():
                embeds, _ = self.pipe.encode_prompt(
                    prompt, do_classifier_free_guidance=False, device=self.device
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            save_file({"embeds": embeds.cpu().contiguous()}, path)
        return load_file(path)["embeds"].to(self.device, self.dtype)

    def _load_text_encoder(self) -> None:
        from transformers import T5EncoderModel

        print(f"loading the T5 text encoder of {self.source} (once, to cache prompt embeddings)")
        self.pipe.text_encoder = T5EncoderModel.from_pretrained(
            self.source,
            subfolder="text_encoder",
            torch_dtype=self.dtype,
            **_variant(self.source, self.dtype),
        ).to(self.device)

    @torch.no_grad()
    def predict(self, x_t: Tensor, t: int, conds: list[Tensor]) -> list[tuple[Tensor, Tensor]]:
        """(eps_hat, variance) of x_t (B, 3, H, W) at t under each prompt embedding, in one pass."""
        B, C = x_t.shape[:2]
        embeds = torch.cat(conds).repeat_interleave(B, dim=0)  # (K B, 77, D)
        x_in = x_t.repeat(len(conds), 1, 1, 1).to(self.device, self.dtype)  # (K B, 3, H, W)
        out = self.unet(x_in, t, encoder_hidden_states=embeds, return_dict=False)[
            0
        ]  # (K B, 6, H, W)
        eps, variance = out.to(x_t.dtype).split(C, dim=1)
        return list(zip(eps.chunk(len(conds)), variance.chunk(len(conds)), strict=True))

    @torch.no_grad()
    def upsample(
        self, x0: Tensor, prompt: str, source: str = STAGE_2, steps: int = 50, generator=None
    ) -> Tensor:
        """Stage II: upsample stage I images x0 (B, 3, 64, 64) in [-1, 1] to 256x256 for prompt."""
        from diffusers import DiffusionPipeline

        stage_2 = _from_pretrained(DiffusionPipeline, source, self.dtype).to(self.device)
        embeds, uncond = self.encode(prompt), self.encode("")
        out = stage_2(
            image=x0.to(self.device, self.dtype),
            prompt_embeds=embeds.expand(len(x0), -1, -1),
            negative_prompt_embeds=uncond.expand(len(x0), -1, -1),
            num_inference_steps=steps,
            generator=generator,
            output_type="pt",
        ).images
        return out.float().clamp(-1, 1)


def _variant(source, dtype) -> dict:
    """The fp16 weight files of the hub repositories; local folders hold what was saved."""
    return {"variant": "fp16"} if dtype == torch.float16 and not Path(str(source)).is_dir() else {}


def _dtype(dtype) -> dict:
    """diffusers 0.42 renamed from_pretrained's `torch_dtype` to `dtype` (the old name warns)."""
    import diffusers

    major, minor = (int(part) for part in diffusers.__version__.split(".")[:2])
    return {"dtype" if (major, minor) >= (0, 42) else "torch_dtype": dtype}


def _from_pretrained(cls, source, dtype):
    try:
        return cls.from_pretrained(
            str(source),
            text_encoder=None,
            safety_checker=None,
            watermarker=None,
            feature_extractor=None,
            requires_safety_checker=False,
            **_dtype(dtype),
            **_variant(source, dtype),
        )
    except (OSError, ValueError) as error:
        raise DeepFloydUnavailable(f"could not load {source}: {error}\n{HOW_TO}") from error


def load_deepfloyd(
    source: str | os.PathLike = STAGE_1,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> DeepFloydIF:
    """Stage I of DeepFloyd IF from a model id or a local directory, as a part A denoiser.

    device defaults to CUDA (fp16); without a GPU it raises DeepFloydUnavailable saying what to
    do. An explicit device (e.g. "cpu" for a tiny test pipeline) is used as given, in float32
    unless dtype says otherwise.
    """
    if device is None:  # decided before importing diffusers, which takes up to a minute
        if not torch.cuda.is_available():
            raise DeepFloydUnavailable(
                f"DeepFloyd IF needs a CUDA GPU and none was found.\n{HOW_TO}"
            )
        device = "cuda"
    device = torch.device(device)
    print(f"loading DeepFloyd IF from {source} (importing diffusers takes a while) ...")
    from diffusers import DiffusionPipeline

    dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
    pipe = _from_pretrained(DiffusionPipeline, source, dtype).to(device)
    return DeepFloydIF(pipe, str(source), Path(cache_dir or DEFAULT_CACHE))
