"""Run students' helpers in contained processes and call them with data only.

One `Zygote` per grading worker: a bubblewrap sandbox (own user namespace as an unprivileged
host user, no network, read-only system, only the grader's runner and the stubbed base helpers
visible) in a cgroup of its own (memory of all its processes and tmpfs together, a process
count, one CPU). It imports torch once and forks one child per submission (a `Sandbox`); the
child enters its own user, mount, PID, IPC and network namespaces, drops every capability and
holds the submission in a private size-capped tmpfs. The trusted side hands each child a fresh
socket and a fresh pipe for its prints: it never opens a path the student can reach, reads
everything with a bound and checks sizes before allocating. A crash, hang or blow-up fails that
call; the next call forks a fresh child. What holds on this machine: `isolation()`.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from instructor.runner import (
    CLONE_NEWNS,
    LIBC,
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    MessageError,
    _check,
    _mount,
    pack,
    read_message,
)

RUNNER = Path(__file__).with_name("runner.py")
CGROUPS = Path("/sys/fs/cgroup")


@dataclass
class Limits:
    start_seconds: float = 180.0  # the zygote: torch and the helpers' dependencies imported
    open_seconds: float = 60.0  # one submission's child: its helpers imported
    wall_seconds: float = 30.0  # per call
    submission_seconds: float = 300.0  # all calls of one submission together
    cpu_seconds: int = 300  # per process
    memory_bytes: int = 4 << 30  # all processes and tmpfs of one worker's sandbox (cgroup)
    processes: int = 64  # tasks in one worker's sandbox (cgroup), threads included
    scratch_bytes: int = 64 << 20  # each of the child's /submission (its tmp too), /dev/shm
    file_bytes: int = 16 << 20  # largest file a process may write
    log_bytes: int = 4096  # student output kept for the report
    reply_bytes: int = 64 << 20  # largest reply read from a child


class SandboxError(RuntimeError):
    """A call that did not come back: a crash, a hang or a blow-up (the message says which)."""


class StudentError(RuntimeError):
    """The student's code raised; args are the exception's type and where in their code."""


@cache
def isolation() -> str:
    """What containment grading gets on this machine, in words."""
    if not _bwrap_works():
        return (
            "NOT ISOLATED: bubblewrap is missing or cannot make namespaces here (apt-get install"
            " bubblewrap), so student code runs as this user with this user's network and"
            " files; only resource limits apply"
        )
    words = "bubblewrap (own user, no network, read-only system) + a namespace per submission"
    if Cgroup.available():
        return words + " + cgroup limits (memory, processes, one CPU) + rlimits"
    return words + " + rlimits per process (no cgroups here: memory and processes not summed)"


@cache
def _bwrap_works() -> bool:
    if not shutil.which("bwrap"):
        return False
    binds = _binds({})
    command = ["bwrap", "--unshare-all", *_mounts(binds), "--proc", "/proc", "true"]
    done = subprocess.run(command, capture_output=True, preexec_fn=lambda: _enter(None, binds))
    return done.returncode == 0


def _binds(extra: dict[str, str]) -> dict[str, str]:
    """{path in the sandbox: host path}: the system, Python, the environment, and extra."""
    binds = {"/usr": "/usr", sys.base_prefix: sys.base_prefix, sys.prefix: sys.prefix}
    return binds | extra


def _mounts(binds: dict[str, str]) -> list[str]:
    mounts = []
    for inside, host in binds.items():
        mounts += ["--ro-bind", host, inside]
    for link in ("lib", "lib64", "bin"):
        if Path(f"/{link}").is_symlink():
            mounts += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    return mounts


def _closed_folder(path: str) -> str | None:
    """The topmost folder on the way to path (or path itself) that a user with no rights of
    its own cannot pass (e.g. /root, or a private temporary folder); None if all are open."""
    for p in [*reversed(Path(path).parents), Path(path)]:
        if not os.stat(p).st_mode & (0o001 if p.is_dir() else 0o004):
            return str(p)
    return None


def _enter(cgroup: "Cgroup | None", binds: dict[str, str]) -> None:
    """In the child before exec: into the cgroup; as root, open the way to the paths the
    sandbox needs in a private mount namespace (each closed folder covered by an empty one
    holding just those paths), then become a user nobody else is."""
    if cgroup is not None:
        cgroup.add(os.getpid())
    if os.geteuid() != 0:
        return
    closed = {h: _closed_folder(h) for h in binds.values()}
    closed = {h: top for h, top in closed.items() if top}
    if closed:
        _check(LIBC.unshare(CLONE_NEWNS), "unshare")
        _mount("none", "/", "", MS_REC | MS_PRIVATE)
        handles = {h: os.open(h, os.O_PATH) for h in closed}  # reachable after covering
        for top in sorted(set(closed.values())):
            _mount("tmpfs", top, "tmpfs", 0, "mode=0755")
        for host, fd in handles.items():
            if Path(f"/proc/self/fd/{fd}").is_dir():
                os.makedirs(host, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(host), exist_ok=True)
                Path(host).touch()
            _mount(f"/proc/self/fd/{fd}", host, "", MS_BIND | MS_REC)
    uid = 200_000 + os.getpid() % 100_000  # no other process has this user
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


class Cgroup:
    """A cgroup (v2, or v1's memory, pids and cpu) holding one worker's sandbox."""

    def __init__(self, name: str, limits: Limits):
        memory, cpu = str(limits.memory_bytes), "100000"
        if self.version() == 2:
            settings = {"": {"memory.max": memory, "memory.swap.max": "0"}}
            settings[""] |= {"pids.max": str(limits.processes), "cpu.max": f"{cpu} {cpu}"}
        else:
            settings = {
                "memory": {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory},
                "pids": {"pids.max": str(limits.processes)},
                "cpu": {"cpu.cfs_period_us": cpu, "cpu.cfs_quota_us": cpu},
            }
        optional = {"memory.memsw.limit_in_bytes", "memory.swap.max"}  # swap accounting may be off
        self.folders = []
        try:
            for controller, values in settings.items():
                folder = CGROUPS / controller / name
                folder.mkdir()
                self.folders.append(folder)
                for key, value in values.items():
                    if key not in optional or (folder / key).exists():
                        (folder / key).write_text(value)  # a missing controller fails here
        except OSError:
            self.remove()
            raise

    @staticmethod
    def version() -> int:
        controllers = CGROUPS / "cgroup.controllers"
        if controllers.exists() and {"memory", "pids"} <= set(controllers.read_text().split()):
            return 2
        return 1

    @classmethod
    @cache
    def available(cls) -> bool:
        """Whether this process can make such a cgroup here (tried once, then removed)."""
        if os.geteuid() != 0:
            return False
        try:
            cls(f"kit-grader-probe-{os.getpid()}", Limits()).remove()
            return True
        except OSError:
            return False

    def add(self, pid: int) -> None:
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        for folder in self.folders:
            for _ in range(50):
                for pid in (folder / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), 9)
                    except ProcessLookupError:
                        pass
                try:
                    folder.rmdir()
                    break
                except OSError:
                    threading.Event().wait(0.1)


class BoundedReader:
    """Drains a pipe in a thread, keeping its first `keep` bytes and counting the rest."""

    def __init__(self, fd: int, keep: int):
        self.kept, self.total, self.keep = bytearray(), 0, keep
        self.thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self.thread.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                self.kept += chunk[: max(0, self.keep - len(self.kept))]
                self.total += len(chunk)

    def text(self, wait: float = 2.0) -> str:
        self.thread.join(wait)
        text = bytes(self.kept).decode(errors="replace")
        cut = self.total - len(self.kept)
        return text + (f"\n... [{cut:,} more bytes cut]" if cut > 0 else "")


class Zygote:
    """One worker's sandbox: imports once, forks a contained child per submission.

    base: the stubbed helpers package, which the zygote imports to load its dependencies.
    """

    def __init__(self, base: Path, limits: Limits | None = None):
        self.base, self.limits = Path(base).resolve(), limits or Limits()
        self.process, self.cgroup, self.nested = None, None, False

    def _binds(self) -> dict[str, str]:
        return _binds({"/grader/runner.py": str(RUNNER), "/base/helpers": str(self.base)})

    def _command(self, fd: int) -> list[str]:
        python = str(Path(sys.prefix) / "bin" / "python")  # the environment's, mounted below
        if not _bwrap_works():
            return [python, "-I", str(RUNNER), str(fd), str(self.base.parent), "plain"]
        scratch = str(self.limits.scratch_bytes)
        return [
            "bwrap", "--die-with-parent", "--new-session", "--unshare-all",
            "--uid", "65534", "--gid", "65534",
            "--proc", "/proc", "--dev", "/dev", *_mounts(self._binds()),
            "--size", scratch, "--tmpfs", "/dev/shm", "--dir", "/tmp",
            "--size", scratch, "--tmpfs", "/submission", "--dir", "/submission/tmp",
            "--remount-ro", "/", "--clearenv", "--setenv", "OMP_NUM_THREADS", "1",
            "--setenv", "HOME", "/submission", "--setenv", "TMPDIR", "/submission/tmp",
            "--chdir", "/",
            python, "-I", "/grader/runner.py", str(fd), "/base", "isolate",
        ]  # fmt: skip

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        errors_read, errors_write = os.pipe()
        if Cgroup.available():
            self.cgroup = Cgroup(f"kit-grader-{os.getpid()}-{id(self)}", self.limits)

        binds = self._binds()
        env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            self._command(theirs.fileno()),
            stdin=subprocess.DEVNULL,
            stdout=errors_write,
            stderr=errors_write,
            pass_fds=[theirs.fileno()],
            env=env,
            cwd="/",
            preexec_fn=lambda: _enter(self.cgroup, binds),
        )
        theirs.close()
        os.close(errors_write)
        self.errors = BoundedReader(errors_read, 4096)
        self.control = ours
        self.control.settimeout(self.limits.start_seconds)
        try:
            self.nested = self._ask({"op": "hello"})["nested"]
        except (OSError, MessageError, KeyError, TypeError) as error:
            self.close()
            raise SandboxError(
                f"the grader's sandbox did not start: {error}; {self.errors.text()}"
            ) from None

    def _ask(self, request: dict, fds: list[int] | None = None) -> dict:
        socket.send_fds(self.control, [pack(request)], fds or [])
        reply = read_message(self.control.makefile("rb", buffering=0), 1 << 20)
        if not isinstance(reply, dict) or not reply.get("ok"):
            raise SandboxError(f"the grader's sandbox refused: {reply}; {self.errors.text(0)}")
        return reply

    def fork(self, files: dict[str, str], channel: int, log: int) -> None:
        """A fresh child for one submission, talking on channel and printing into log."""
        if self.process is None or self.process.poll() is not None:
            self.close()
            self.start()
        lim = self.limits
        rlimits = {
            "RLIMIT_CPU": lim.cpu_seconds,
            "RLIMIT_FSIZE": lim.file_bytes,
            "RLIMIT_NPROC": lim.processes,
            "RLIMIT_CORE": 0,
        }
        limits = {"rlimits": rlimits, "scratch_bytes": lim.scratch_bytes}
        limits["memory_bytes"] = lim.memory_bytes
        request = {"op": "open", "files": files, "limits": limits, "isolate": self.nested}
        self.control.settimeout(lim.open_seconds)
        self._ask(request, [channel, log])

    def kill(self) -> None:
        """End the current child and everything it started; restart the zygote if it is stuck."""
        if self.process is None:
            return
        try:
            self.control.settimeout(10)
            self._ask({"op": "kill"})
        except (OSError, MessageError, SandboxError):
            self.close()

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
            self.control.close()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()


class Sandbox:
    """One submission in the zygote: `call` forks its child on first use and after a death."""

    def __init__(self, zygote: Zygote, files: dict[str, str]):
        self.zygote, self.files, self.limits = zygote, files, zygote.limits
        self.channel, self.logs, self.deadline = None, [], None

    def _open(self) -> None:
        ours, theirs = socket.socketpair()
        log_read, log_write = os.pipe()
        try:
            self.zygote.fork(self.files, theirs.fileno(), log_write)
        finally:
            theirs.close()
            os.close(log_write)
            self.logs.append(BoundedReader(log_read, self.limits.log_bytes))
        self.channel = ours
        self.stream = ours.makefile("rwb")

    def call(self, request: dict):
        """Send one request; return the student's result, or raise SandboxError/StudentError."""
        if self.deadline is None:
            self.deadline = time.monotonic() + self.limits.submission_seconds
        if time.monotonic() > self.deadline:
            raise SandboxError(f"the submission used all its {self.limits.submission_seconds:g} s")
        if self.channel is None:
            self._open()
            self._exchange({"op": "ping"}, self.limits.open_seconds, "starting up")
        return self._exchange(request, self.limits.wall_seconds, "")

    def _exchange(self, request: dict, seconds: float, stage: str):
        self.channel.settimeout(seconds)
        try:
            self.stream.write(pack(request))
            self.stream.flush()
            reply = read_message(self.stream, self.limits.reply_bytes)
            problem = "the process died (crash, memory or CPU limit)" if reply is None else ""
        except TimeoutError:
            problem = f"timed out after {seconds:g} s"
        except MessageError as error:
            problem = f"its reply was refused ({error})"
        except (OSError, ValueError):
            problem = "the process died (crash, memory or CPU limit)"
        if not problem and not (isinstance(reply, dict) and "ok" in reply):
            problem = "its reply was not a reply"
        if problem:
            self.close()
            raise SandboxError(f"{stage}: {problem}" if stage else problem)
        if not reply["ok"]:
            raise StudentError(*self._describe(reply))
        return reply.get("result")

    def _describe(self, reply: dict) -> tuple[str, str]:
        """(error type, place in the student's code) from a failed reply, in words made here:
        every string the child sends could carry hidden inputs, so only checked names and
        numbers are used, and the line is quoted from the grader's copy of their file."""
        kind = reply.get("error")
        kind = kind if isinstance(kind, str) and re.fullmatch(r"\w{1,60}", kind) else "an error"
        calls = reply.get("calls")
        if kind == "StructureError" and isinstance(calls, list) and len(calls) == 2:
            theirs, course = (int(n) if isinstance(n, int) else "?" for n in calls)
            kind = f"its layers differ from the course's ({theirs} layers called, not {course})"
        if reply.get("importing") is True:
            kind = f"not importable, {kind}"
        elif kind == "MissingFunction":
            kind = "not found in its file (renamed or deleted?)"
        file, line = reply.get("file"), reply.get("line")
        if not (isinstance(line, int) and file in self.files):
            return kind, ""
        lines = self.files[file].splitlines()
        text = lines[line - 1].strip()[:120] if 0 < line <= len(lines) else ""
        return kind, f"helpers/{file}:{line}: {text}"

    def output(self) -> str:
        """What the student's code printed, cut to the report's bound."""
        self.close()
        text = "".join(log.text() for log in self.logs)
        return text[: self.limits.log_bytes + 200]

    def close(self) -> None:
        if self.channel is not None:
            self.zygote.kill()
            self.channel.close()
            self.channel = None
