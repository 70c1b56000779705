"""Shipped model checkpoints: half-precision safetensors plus a JSON manifest each.

assets/checkpoints/<name>.safetensors holds only tensors (no pickle, safe to load from anyone);
<name>.json says what the model is and how it was made: architecture, training recipe, data,
epochs and steps, seed, loss history, metrics, sha256 of the weights, and the command.
"""

import base64
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from helpers.classifier import CheckClassifier, DigitClassifier
from helpers.data import _sha256, mnist_tensors
from helpers.pretrained import (
    PretrainedClassUNet,
    PretrainedFlowTimeUNet,
    PretrainedTimeUNet,
    PretrainedUNet,
)
from helpers.training import RECIPES, TrainConfig, load_run, train
from helpers.training import run_dir as default_run_dir

CHECKPOINTS = Path(__file__).resolve().parent.parent / "assets" / "checkpoints"
NAMES = {  # recipe -> checkpoint name prefix
    "denoiser": "denoiser",
    "time": "time_ddpm",
    "class": "class_ddpm",
    "class_zero_snr": "class_zero_snr_ddpm",
    "class_zero_snr_long": "class_zero_snr_ddpm_long",
    "class_zero_snr_low_t": "class_zero_snr_ddpm_low_t",
    "offline": "offline_digits",
    "flow_time": "flow_time",
    "flow_class": "flow_class",
    "flow_class_constant_lr": "flow_class_constant_lr",
    "flow_class_reflow": "flow_class_reflow",
    "noise_denoiser": "noise_denoiser",
}
# a manifest's architecture -> the given network that loads it (helpers/pretrained.py): shipped
# models never need the UNets students write in helpers/unet.py, which share the same names
ARCHITECTURES = {
    "UnconditionalUNet": PretrainedUNet,
    "TimeConditionalUNet": PretrainedTimeUNet,
    "ClassConditionalUNet": PretrainedClassUNet,
    "FlowTimeUNet": PretrainedFlowTimeUNet,
    "DigitClassifier": DigitClassifier,
    "CheckClassifier": CheckClassifier,
}


def export_checkpoint(model: nn.Module, kwargs: dict, path: str | os.PathLike, **facts) -> Path:
    """Write model's weights in float16 to path (.safetensors) and its manifest beside it (.json).

    kwargs: the constructor arguments that rebuild the model; facts: how it was made (recipe,
    data, epochs, steps, seed, loss_history, metrics, command, ...).
    """
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    save_file(state, path)
    manifest = {
        "architecture": type(model).__name__,
        "kwargs": kwargs,
        "dtype": "float16",
        "parameters": sum(p.numel() for p in model.parameters()),
        **facts,
        "sha256": _sha256(path),
    }
    path.with_suffix(".json").write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def available() -> list[str]:
    """Names of the checkpoints shipped in assets/checkpoints."""
    return sorted(p.stem for p in CHECKPOINTS.glob("*.safetensors"))


def checkpoint_path(name_or_path: str | os.PathLike) -> Path:
    """The .safetensors file of a shipped checkpoint's name, or the path itself if it is one."""
    path = Path(name_or_path)
    return path if path.suffix == ".safetensors" else CHECKPOINTS / f"{name_or_path}.safetensors"


def load_checkpoint(
    name_or_path: str | os.PathLike, device: str | torch.device = "cpu"
) -> nn.Module:
    """The model of a shipped checkpoint (by name) or of a .safetensors file, in eval mode, float32.

    The network is the given one of helpers/pretrained.py (or classifier.DigitClassifier), never
    the student's helpers/unet.py: what a notebook only loads runs before that is written.
    Verifies the weights against the sha256 in the manifest and raises ValueError saying what is
    wrong (missing, corrupt, changed, or not matching its architecture) and how to repair it.
    The manifest is attached to the model as `model.manifest`.
    """
    path = checkpoint_path(name_or_path)
    if not path.exists():
        raise ValueError(f"no checkpoint {path}; shipped ones: {', '.join(available()) or 'none'}")
    repair = f"restore it with `git checkout -- {path}` or retrain it (see its manifest's command)"
    try:
        manifest = json.loads(path.with_suffix(".json").read_text())
        architecture = ARCHITECTURES[manifest["architecture"]]
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(
            f"the manifest {path.with_suffix('.json')} is missing or unreadable ({error})"
        ) from error
    if _sha256(path) != manifest["sha256"]:
        raise ValueError(
            f"{path} does not match the sha256 in its manifest (corrupt or changed); {repair}"
        )
    try:
        state = load_file(path)
    except SafetensorError as error:
        raise ValueError(
            f"{path} is not a readable safetensors file ({error}); {repair}"
        ) from error
    model = architecture(**manifest["kwargs"])
    try:
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        )
    except RuntimeError as error:
        raise ValueError(
            f"{path} does not fit a {manifest['architecture']}{manifest['kwargs']} (the given"
            f" network of helpers/pretrained.py; parameter names as in helpers/unet.py): {error}"
        ) from error
    model.manifest = manifest
    return model.to(device).eval()


def checkpoint_name(recipe: str, epoch: int) -> str:
    """The shipped checkpoint of a recipe (see helpers.training.RECIPES) after `epoch`."""
    return f"{NAMES[recipe]}_epoch{epoch:02d}"


def course_models(
    recipe: str, epochs: list[int], retrain: bool = False, run_dir: str | os.PathLike | None = None
) -> tuple[dict[int, nn.Module], TrainConfig, list[float]]:
    """A part B recipe's models after each of `epochs`, its TrainConfig and its loss history.

    By default the shipped checkpoints (seconds). retrain=True trains the recipe here instead,
    on the bundled MNIST, into run_dir (default runs/<recipe> at the repository root; a killed
    run resumes there): about an hour per model on a 2-core CPU, minutes on a GPU.
    """
    if retrain:
        run_dir = Path(run_dir) if run_dir else default_run_dir(recipe)  # runs/ at the root
        images, labels = mnist_tensors(train=True)
        config = RECIPES[recipe]
        _, history = train(config, images, labels, run_dir)
        models = {e: load_run(run_dir, e)[0] for e in epochs}
        return models, config, history
    models = {e: load_checkpoint(checkpoint_name(recipe, e)) for e in epochs}
    manifest = models[max(epochs)].manifest
    return models, TrainConfig(**manifest["recipe"]), manifest.get("loss_history", [])


def pack_images(images: torch.Tensor) -> dict:
    """Images (N, C, H, W) in [0, 1] as 8-bit values in a JSON-ready dict, for a manifest."""
    data = (images.clamp(0, 1) * 255).round().to(torch.uint8).numpy().tobytes()
    return {"shape": list(images.shape), "uint8_base64": base64.b64encode(data).decode()}


def unpack_images(packed: dict) -> torch.Tensor:
    """The images of `pack_images`, float32 in [0, 1]."""
    data = bytearray(base64.b64decode(packed["uint8_base64"]))
    return torch.frombuffer(data, dtype=torch.uint8).reshape(packed["shape"]).float() / 255


def latest_course_model(recipe: str) -> tuple[nn.Module, TrainConfig, int]:
    """The newest shipped checkpoint of a part B recipe: (model, its TrainConfig, its epoch)."""
    epoch = latest_epoch(recipe)
    models, config, _ = course_models(recipe, [epoch])
    return models[epoch], config, epoch


def latest_epoch(recipe: str) -> int:
    """The last epoch of a recipe that ships as a checkpoint (ValueError if none does)."""
    prefix = f"{NAMES[recipe]}_epoch"
    epochs = [int(name.removeprefix(prefix)) for name in available() if name.startswith(prefix)]
    if not epochs:
        raise ValueError(
            f"no {NAMES[recipe]} checkpoint ships in {CHECKPOINTS}; train one with "
            f"`python tools/train.py {recipe}` and export it (tools/checkpoints.py)"
        )
    return max(epochs)
