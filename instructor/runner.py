"""The untrusted side of grading: runs inside the sandbox, next to one student's helpers.

One zygote per grading worker imports torch and the helpers' third-party modules once, then
forks one child per submission. The child enters namespaces of its own (user, mount, PID, IPC,
network), writes the submission's files into a private size-capped tmpfs, imports them and
answers requests on a socket that the trusted side handed over for this child alone; the
student's prints go to a pipe the trusted side reads with a bound. Requests and replies are data
only (a JSON header plus a safetensors blob, never pickle), sizes capped before allocation:

    {"op": "call", "module": "steps", "name": "ddpm_step", "args": [...], "kwargs": {...}}
    {"op": "module", "name": "TimeConditionalUNet", "init": {...}, "inputs": [...],
     "train": false, "weights": [[signature, {key: tensor}], ...]}
This file is self-contained (torch and safetensors only) because it is the only grader file the
sandbox can see; the trusted side imports `pack` and `read_message` from it too.
"""

import ctypes
import io
import json
import os
import shutil
import signal
import socket
import struct
import sys
import time
import traceback
import types

import torch
from safetensors.torch import load, save

ROOT = "/submission"  # where the submission lives; frames under it are the student's
PLAIN_SCRATCH = ""  # without namespaces: the folder holding each child's own folder
MAX_HEADER = 1 << 20  # bytes of JSON in one message
MAX_BLOB = 256 << 20  # bytes of tensors in one message


class MessageError(ValueError):
    """A message over the size caps or malformed: the peer is not to be trusted."""


def _encode(obj, tensors):
    if isinstance(obj, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = obj.detach().cpu().clone(memory_format=torch.contiguous_format)  # own memory
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
            return torch.Generator().manual_seed(int(obj["__generator__"]))
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


def _read_exactly(stream, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            raise MessageError(f"the message ended {left} bytes early")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(stream, max_blob: int = MAX_BLOB, sizes: bytes | None = None):
    """One packed message from a binary stream, or None at its end; sizes checked first."""
    sizes = stream.read(16) if sizes is None else sizes
    if not sizes:
        return None
    if len(sizes) < 16:
        raise MessageError("a message ended inside its size header")
    n_header, n_blob = struct.unpack("<QQ", sizes)
    if n_header > MAX_HEADER or n_blob > max_blob:
        raise MessageError(f"a message of {n_header + n_blob:,} bytes is over the limit")
    header = json.loads(_read_exactly(stream, n_header))
    tensors = load(_read_exactly(stream, n_blob)) if n_blob else {}
    return _decode(header, tensors)


# ---- the child: one submission -----------------------------------------------------------


def _leaves(model, inputs):
    """The model's leaf modules that hold state, in the order its forward first calls them."""
    order, hooks = [], []
    for module in model.modules():
        if not list(module.children()) and module.state_dict():
            hooks.append(module.register_forward_hook(lambda m, i, o: order.append(m)))
    with torch.no_grad():
        model(*inputs)
    for hook in hooks:
        hook.remove()
    seen = []
    for module in order:
        if not any(module is s for s in seen):
            seen.append(module)
    return seen


def signature(module) -> str:
    """A leaf's type and the shapes of its state, e.g. 'Conv2d weight:8,1,3,3 bias:8'."""
    state = ",".join(f"{k}:{'x'.join(map(str, v.shape))}" for k, v in module.state_dict().items())
    return f"{type(module).__name__} {state}"


class StructureError(ValueError):
    """The student's network does not call the course's layers: (message, theirs, course's)."""


def load_by_structure(model, inputs, weights) -> None:
    """Give model the weights of a reference network, layer by layer in the order of calls.

    weights: [[signature, {key: tensor}], ...] in the reference's call order. Layers of one
    signature are paired in call order, so names and definition order do not matter.
    """
    mine = _leaves(model, inputs)
    wanted = [w[0] for w in weights]
    got = [signature(m) for m in mine]
    if sorted(got) != sorted(wanted):
        raise StructureError("the layers differ from the course's", len(got), len(wanted))
    queues = {}
    for sig, state in weights:
        queues.setdefault(sig, []).append(state)
    for module, sig in zip(mine, got, strict=True):
        module.load_state_dict(queues[sig].pop(0))


class AnalyticDenoiser:
    """A part A backend with a closed-form noise estimate, so graded loops are exact and fast:
    eps(x_t, t, c) = 0.5 tanh(x_t) + 0.1 x_t[:, :, :, j-1] + 0.1 ramp + 0.2 c + 0.1 sin(t / 100),
    where ramp grows down the rows (so flips matter) and c is a number per prompt."""

    name = "analytic (grading)"
    device, dtype = torch.device("cpu"), torch.float32

    def __init__(self, alphas_cumprod, image_shape):
        self.alphas_cumprod, self.image_shape = alphas_cumprod, tuple(image_shape)
        rows = image_shape[-2]
        self.ramp = torch.linspace(-1, 1, rows)[:, None].expand(rows, image_shape[-1])

    def encode(self, prompt: str) -> float:
        return sum(map(ord, prompt)) % 97 / 97

    def predict(self, x_t, t, conds):
        return [(analytic_eps(x_t, t, self.ramp) + 0.2 * c, None) for c in conds]


def analytic_eps(x_t, t, ramp):
    mixed = 0.5 * torch.tanh(x_t) + 0.1 * x_t.roll(1, dims=-1)  # neighbours matter (inpainting)
    return mixed + 0.1 * ramp + 0.1 * torch.sin(torch.tensor(t / 100.0))


def analytic_net(x, *conds):
    """A stand-in network for graded losses: model(x, *conds), each input weighted by position."""
    out = 0.5 * torch.tanh(x) + 0.1 * x.roll(1, dims=-1)
    for k, cond in enumerate(conds, 1):
        out = out + 0.1 * k * torch.sin(cond.float() * (k + 2)).view(-1, 1, 1, 1)
    return out


def analytic_velocity(x_t, t, ramp):
    """A closed-form velocity field for graded flow loops: velocity_model(x_t, t), t a float (a
    0-d or (B,) tensor is taken too); depends on x_t, its neighbours, the row and t."""
    t = torch.as_tensor(t, dtype=x_t.dtype)
    t = t.reshape(-1, *[1] * (x_t.ndim - 1)) if t.ndim == 1 else t
    mixed = 0.5 * torch.tanh(x_t) + 0.1 * x_t.roll(1, dims=-1)
    return mixed + 0.2 * ramp * torch.cos(3 * t) + 0.3 * torch.sin(5 * t)


def analytic_model(spec: dict):
    """The model a graded loop runs with: {"kind": "denoiser" | "eps" | "net" | "velocity",
    "alphas_cumprod", "image_shape"}; the eps kind is a callable eps_model(x_t, t), the net kind
    analytic_net, the velocity kind a flow's velocity_model(x_t, t) (analytic_velocity)."""
    if spec["kind"] == "net":
        return analytic_net
    if spec["kind"] == "velocity":
        rows, cols = spec["image_shape"][-2:]
        ramp = torch.linspace(-1, 1, rows)[:, None].expand(rows, cols)
        return lambda x_t, t: analytic_velocity(x_t, t, ramp)
    denoiser = AnalyticDenoiser(spec["alphas_cumprod"], spec["image_shape"])
    if spec["kind"] == "denoiser":
        return denoiser
    return lambda x_t, t: analytic_eps(x_t, int(t), denoiser.ramp)


EXPORTS: dict[str, str] = {}  # what helpers/__init__.py exports: name -> its module


def _bare_package(folder: str):
    """The student's helpers package without its __init__.py: the names __init__ exports are
    looked up in their own modules when first used (`from helpers import forward` works)."""
    import importlib

    def exported(name: str):
        if name not in EXPORTS:
            raise AttributeError(f"module 'helpers' has no attribute {name!r}")
        return getattr(importlib.import_module(EXPORTS[name]), name)

    package = types.ModuleType("helpers")
    package.__path__, package.__all__, package.__getattr__ = [folder], list(EXPORTS), exported
    return package


def _import(module: str):
    """The student's helpers.<module> alone (with what it imports), never the package's
    __init__: a file that does not import costs only the functions that need it."""
    import importlib

    try:
        return importlib.import_module(f"helpers.{module}")
    except BaseException as error:  # noqa: BLE001 - reported as the import's failure
        raise ImportFailure from error


def _function(module: str, name: str):
    """The student's helpers.<module>.<name>: a function or a network class."""
    found = _import(module)
    if not hasattr(found, name):
        raise MissingFunction
    return getattr(found, name)


class ImportFailure(Exception):
    """The module of a requested function (or one it imports) did not import: see __cause__."""


class MissingFunction(Exception):
    """The module imports, but the requested function is not in it (renamed or deleted)."""


def handle(request):
    if request["op"] == "ping":  # start-up: the child is ready
        return True
    if request["op"] == "call":
        function = _function(request["module"], request["name"])
        return function(*request.get("args", []), **request.get("kwargs", {}))
    if request["op"] == "with_model":  # a loop of the student's, run on an analytic model
        function = _function(request["module"], request["name"])
        model = analytic_model(request["model"])
        return function(model, *request.get("args", []), **request.get("kwargs", {}))
    if request["op"] == "module":
        network = _function("unet", request["name"])
        torch.manual_seed(0)
        model = network(**request.get("init", {}))
        inputs = request.get("inputs", [])
        model.train(request.get("train", False))
        if request.get("weights") is not None:
            load_by_structure(model, inputs, request["weights"])
        with torch.no_grad():
            output = model(*inputs)
        shapes = [list(p.shape) for p in model.parameters()]
        return {"output": output, "parameter_shapes": shapes}
    raise ValueError(f"unknown op {request['op']!r}")


def _where(error: BaseException) -> dict:
    """The last place in the student's files that the error passed: {"file", "line"}."""
    if isinstance(error, SyntaxError) and str(error.filename).startswith(ROOT + "/"):
        return {"file": os.path.relpath(error.filename, ROOT + "/helpers"), "line": error.lineno}
    frames = traceback.extract_tb(error.__traceback__)
    theirs = [f for f in frames if f.filename.startswith(ROOT + "/")]
    if not theirs:
        return {}
    return {
        "file": os.path.relpath(theirs[-1].filename, ROOT + "/helpers"),
        "line": theirs[-1].lineno,
    }


def serve(channel: socket.socket) -> None:
    """Answer requests on channel until it closes; every error is reported, none escapes."""
    stream = channel.makefile("rwb")
    while (request := read_message(stream)) is not None:
        try:
            reply = {"ok": True, "result": handle(request)}
        except BaseException as error:  # noqa: BLE001 - everything the student raises is reported
            importing = isinstance(error, ImportFailure) and error.__cause__ is not None
            error = error.__cause__ if importing else error
            reply = {"ok": False, "error": type(error).__name__, **_where(error)}
            reply["importing"] = importing
            if isinstance(error, StructureError):
                reply["calls"] = error.args[1:]
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            message = pack(reply)
        except TypeError as error:
            message = pack({"ok": False, "error": f"TypeError: {error}", "where": ""})
        stream.write(message)
        stream.flush()


# ---- namespaces -------------------------------------------------------------------------

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 1 << 12, 1 << 14, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
LIBC = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
    _check(
        LIBC.mount(source.encode(), target.encode(), fstype.encode(), flags, data.encode()),
        f"mount {target}",
    )


def enter_namespaces(scratch_bytes: int) -> None:
    """Own user, mount, PID, IPC, UTS and network namespaces; fresh size-capped tmpfs at ROOT
    (TMPDIR is ROOT/tmp) and /dev/shm. Mounts inherited from the zygote's sandbox stay
    read-only and locked."""
    uid, gid = os.geteuid(), os.getegid()
    LIBC.prctl(PR_SET_DUMPABLE, 1)  # the zygote is not; the child must write its own maps
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    _check(LIBC.unshare(flags | CLONE_NEWNET), "unshare")
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    _mount("none", "/", "", MS_REC | MS_PRIVATE)
    for target in (ROOT, "/dev/shm"):
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={scratch_bytes},mode=0777")


def drop_capabilities() -> None:
    """No capability left, in any namespace, and none to regain (no_new_privs)."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2): all empty
    _check(LIBC.capset(header, data), "capset")
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def child(files: dict, channel: socket.socket, log_fd: int, limits: dict, isolate: bool) -> None:
    """Run one submission: files {relative path: source} under ROOT/helpers; never returns."""
    import resource

    global ROOT
    try:
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if isolate:
            enter_namespaces(limits["scratch_bytes"])
            if _fork_retrying():  # this process waits; its child is PID 1 of the new namespace
                os._exit(os.wait()[1] >> 8)
            LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
            drop_capabilities()
        else:  # not isolated: a folder of its own, removed by the zygote when it ends
            ROOT = os.path.join(PLAIN_SCRATCH, str(os.getpid()))
        for relative, text in files.items():
            path = os.path.join(ROOT, "helpers", relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        os.makedirs(os.path.join(ROOT, "tmp"), exist_ok=True)
        os.chdir(ROOT)
        os.environ |= {"HOME": ROOT, "TMPDIR": os.path.join(ROOT, "tmp")}
        try:
            with open("/proc/self/oom_score_adj", "w") as f:  # first to go when memory is out
                f.write("1000")
        except OSError:
            pass
        rlimits = limits["rlimits"] | {"RLIMIT_AS": _address_space() + limits["memory_bytes"]}
        for name, value in rlimits.items():
            resource.setrlimit(getattr(resource, name), (value, value))
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), write_through=True)
        sys.stderr = sys.stdout
        for name in [m for m in sys.modules if m == "helpers" or m.startswith("helpers.")]:
            del sys.modules[name]  # the zygote's copy was the stubbed base: import theirs
        sys.modules["helpers"] = _bare_package(os.path.join(ROOT, "helpers"))
        sys.path.insert(0, ROOT)
        serve(channel)
        code = 0
    except BaseException:  # noqa: BLE001 - a child never returns into the zygote's loop
        traceback.print_exc()
        code = 1
    os._exit(code)


# ---- the zygote: one per grading worker ---------------------------------------------------


def _address_space() -> int:
    """This process's mapped address space in bytes (torch's CUDA build maps gigabytes)."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmSize:"))
    return int(line.split()[1]) * 1024


def zygote(control_fd: int, base: str, sandboxed: bool) -> None:
    """Import once, then on each 'open' fork a child for one submission; 'kill' ends it."""
    LIBC.prctl(PR_SET_DUMPABLE, 0)  # children cannot trace or read the zygote
    torch.set_num_threads(1)
    sys.path.insert(0, base)
    import helpers  # the stubbed base: loads torchvision, numpy, PIL once

    EXPORTS.update({name: getattr(helpers, name).__module__ for name in helpers.__all__})

    nested = sandboxed and _namespaces_work()
    global PLAIN_SCRATCH
    if not nested:
        import tempfile

        PLAIN_SCRATCH = tempfile.mkdtemp(prefix="kit-grader-")

    control = socket.socket(fileno=control_fd)
    children = set()
    while True:
        request, fds = receive(control)
        if request is None:
            break
        for pid in list(children):  # reap what has ended
            if os.waitpid(pid, os.WNOHANG)[0]:
                _ended(pid, children)
        if request["op"] == "hello":
            reply = {"ok": True, "nested": nested}
        elif request["op"] == "open" and len(fds) == 2:
            channel, log_fd = socket.socket(fileno=fds[0]), fds[1]
            pid = _fork_retrying()
            if pid == 0:
                control.close()
                child(request["files"], channel, log_fd, request["limits"], nested)
            channel.close()
            os.close(log_fd)
            children.add(pid)
            reply = {"ok": True, "pid": pid}
        elif request["op"] == "kill":
            for pid in list(children):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                _ended(pid, children)
            reply = {"ok": True}
        else:
            reply = {"ok": False, "error": f"unknown op {request['op']!r}"}
        control.sendall(pack(reply))


def _ended(pid: int, children: set) -> None:
    children.discard(pid)
    if PLAIN_SCRATCH:
        shutil.rmtree(os.path.join(PLAIN_SCRATCH, str(pid)), ignore_errors=True)


def receive(control: socket.socket):
    """One message and the file descriptors sent with its first bytes, or (None, [])."""
    sizes, fds, _, _ = socket.recv_fds(control, 16, 4)
    if not sizes:
        return None, []
    stream = control.makefile("rb", buffering=0)  # no read-ahead into the next message's fds
    return read_message(stream, sizes=sizes + _read_exactly(stream, 16 - len(sizes))), fds


def _namespaces_work() -> bool:
    """Whether a child can make the namespaces of `enter_namespaces` here (tried in a fork)."""
    pid = os.fork()
    if pid == 0:
        try:
            enter_namespaces(1 << 20)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def _fork_retrying() -> int:
    for attempt in range(50):  # a killed fork bomb's processes take a moment to go
        try:
            return os.fork()
        except BlockingIOError:
            time.sleep(0.1 * (attempt + 1))
    return os.fork()


if __name__ == "__main__":
    zygote(int(sys.argv[1]), sys.argv[2], sys.argv[3] == "isolate")
