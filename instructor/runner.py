"""The untrusted side of grading: runs inside the sandbox, next to one student's helpers.

It reads requests on stdin and writes replies to the pipe that was its stdout; the student's own
prints go to a log file instead. Requests and replies are data only (a JSON header plus a
safetensors blob, never pickle): the runner receives inputs, returns tensors and numbers, and
knows nothing about expected values.

    {"op": "call", "name": "ddpm_step", "args": [...], "kwargs": {...}}
    {"op": "module", "name": "TimeConditionalUNet", "init": {...}, "seed": 0, "inputs": [...],
     "train": false}
This file is self-contained (torch and safetensors only) because it is the only grader file the
sandbox can see; the trusted side imports `pack` and `unpack` from it too.
"""

import json
import os
import struct
import sys
import traceback

import torch
from safetensors.torch import load, save


def _encode(obj, tensors):
    if isinstance(obj, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, torch.Generator):
        return {"__generator__": obj.initial_seed()}
    if isinstance(obj, (list, tuple)):
        return [_encode(x, tensors) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _encode(v, tensors) for k, v in obj.items()}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(
        f"cannot send a {type(obj).__name__} (only tensors, numbers, strings, lists, dicts)"
    )


def _decode(obj, tensors):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__generator__" in obj:
            return torch.Generator().manual_seed(obj["__generator__"])
        return {k: _decode(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(x, tensors) for x in obj]
    return obj


def pack(obj) -> bytes:
    """obj (tensors, numbers, strings, lists, dicts, generators) as length-prefixed bytes."""
    tensors = {}
    header = json.dumps(_encode(obj, tensors)).encode()
    blob = save(tensors) if tensors else b""
    return struct.pack("<QQ", len(header), len(blob)) + header + blob


def read_message(stream):
    """One packed message from a binary stream, or None at its end."""
    sizes = stream.read(16)
    if len(sizes) < 16:
        return None
    n_header, n_blob = struct.unpack("<QQ", sizes)
    header = json.loads(stream.read(n_header))
    tensors = load(stream.read(n_blob)) if n_blob else {}
    return _decode(header, tensors)


def handle(request):
    import helpers  # the student's package, first on sys.path

    if request["op"] == "ping":  # start-up: torch is imported, now the student's package
        return True
    if request["op"] == "call":
        function = getattr(helpers, request["name"])
        return function(*request.get("args", []), **request.get("kwargs", {}))
    if request["op"] == "module":
        from helpers import unet

        torch.manual_seed(request.get("seed", 0))
        model = getattr(unet, request["name"])(**request.get("init", {}))
        model.train(request.get("train", False))
        with torch.no_grad():
            output = model(*request.get("inputs", []))
        return {"output": output, "num_parameters": sum(p.numel() for p in model.parameters())}
    raise ValueError(f"unknown op {request['op']!r}")


def main():
    sys.path.insert(0, sys.argv[1])  # the submission
    replies = os.fdopen(os.dup(1), "wb")
    log = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)  # student prints go to the log, never into the replies
    os.dup2(log, 2)
    requests = sys.stdin.buffer
    while (request := read_message(requests)) is not None:
        try:
            reply = {"ok": True, "result": handle(request)}
        except BaseException as error:  # noqa: BLE001 - everything the student raises is reported
            frames = traceback.extract_tb(error.__traceback__)
            theirs = [f for f in frames if not f.filename.endswith("runner.py")]  # the student's
            where = "".join(traceback.format_list(theirs[-4:]))
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}", "traceback": where}
        try:
            message = pack(reply)
        except TypeError as error:
            message = pack({"ok": False, "error": f"TypeError: {error}", "traceback": ""})
        replies.write(message)
        replies.flush()


if __name__ == "__main__":
    main()
