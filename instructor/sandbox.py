"""Run one student's helpers in a contained process and call them with data only.

Containment, where the platform has it (Linux with bubblewrap from Debian's packages):
    bubblewrap: a new user (nobody), no network, read-only system, only the submission and a
    scratch folder visible; the kit, the solutions and the hidden tests are not there;
    resource limits: CPU seconds, address space (memory), file size, processes;
    a wall-time limit per call, enforced here by killing the process.
Without bubblewrap the same process runs with the limits only, and `isolation` says what is not
isolated. A crash, hang or memory blow-up fails that call; the next call starts a fresh process.
"""

import os
import resource
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from instructor.runner import pack, read_message

RUNNER = Path(__file__).with_name("runner.py")


@dataclass
class Limits:
    start_seconds: float = 120.0  # start-up: torch and the student's package imported
    wall_seconds: float = 30.0  # per call
    cpu_seconds: int = 300  # per process
    memory_bytes: int = 4 << 30  # address space; torch's CUDA build needs about 3 GB to import
    file_bytes: int = 16 << 20  # largest file the process may write (its log included)
    processes: int = 256
    log_bytes: int = 4096  # student output kept in the report


class SandboxError(RuntimeError):
    """A call that did not come back: a crash, a hang or a blow-up (the message says which)."""


def isolation() -> str:
    """What containment grading gets on this machine, in words."""
    if shutil.which("bwrap"):
        return "bubblewrap (own user, no network, read-only system, only the submission) + rlimits"
    return (
        "NOT ISOLATED: bubblewrap is missing (apt-get install bubblewrap), so student code runs as"
        " this user with this user's network and files; only resource limits apply"
    )


class Sandbox:
    def __init__(self, submission: Path, scratch: Path, limits: Limits | None = None):
        self.submission, self.scratch = Path(submission).resolve(), Path(scratch).resolve()
        self.limits = limits or Limits()
        self.process: subprocess.Popen | None = None
        self.log = self.scratch / "output.log"
        self.scratch.mkdir(parents=True, exist_ok=True)
        os.chmod(self.scratch, 0o777)  # nobody writes here

    def _command(self) -> list[str]:
        python = str(Path(sys.prefix) / "bin" / "python")  # the environment's, as mounted below
        inner = [python, "-I", "/grader/runner.py", "/submission", "/scratch/output.log"]
        if not shutil.which("bwrap"):
            return [python, "-I", str(RUNNER), str(self.submission), str(self.log)]
        venv, base = Path(sys.prefix), Path(sys.base_prefix)
        mounts = ["--ro-bind", "/usr", "/usr", "--ro-bind", str(base), str(base)]
        if venv != base:
            mounts += ["--ro-bind", str(venv), str(venv)]
        for link in ("lib", "lib64", "bin"):
            if Path(f"/{link}").is_symlink():
                mounts += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        return [
            "bwrap", "--die-with-parent", "--new-session", "--unshare-all",
            "--uid", "65534", "--gid", "65534",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",  # before mounts under /tmp
            *mounts,
            "--ro-bind", str(RUNNER), "/grader/runner.py",
            "--ro-bind", str(self.submission), "/submission",
            "--bind", str(self.scratch), "/scratch", "--chdir", "/scratch",
            "--clearenv", "--setenv", "HOME", "/scratch", "--setenv", "OMP_NUM_THREADS", "1",
            *inner,
        ]  # fmt: skip

    def _limit(self) -> None:  # runs in the child before exec
        lim = self.limits
        resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_seconds, lim.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_AS, (lim.memory_bytes, lim.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_bytes, lim.file_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (lim.processes, lim.processes))

    def _start(self) -> None:
        env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(self.scratch)}
        self.process = subprocess.Popen(
            self._command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "ab"),  # noqa: SIM115 - the child owns it
            cwd=self.scratch,
            env=env,
            preexec_fn=self._limit,
        )

    def call(self, request: dict):
        """Send one request; return the student's result, or raise SandboxError / the error text."""
        if self.process is None or self.process.poll() is not None:
            self._start()
            self._exchange({"op": "ping"}, self.limits.start_seconds, "starting up")
        return self._exchange(request, self.limits.wall_seconds, "")

    def _exchange(self, request: dict, seconds: float, stage: str):
        reply: list = []

        def exchange():
            self.process.stdin.write(pack(request))
            self.process.stdin.flush()
            reply.append(read_message(self.process.stdout))

        worker = threading.Thread(target=exchange, daemon=True)
        worker.start()
        worker.join(seconds)
        if worker.is_alive() or not reply or reply[0] is None:
            timed_out = worker.is_alive()
            self.close()
            if stage:
                raise SandboxError(
                    f"{stage}: " + ("timed out" if timed_out else "the process died")
                )
            raise SandboxError(
                f"timed out after {self.limits.wall_seconds:g} s"
                if timed_out
                else "the process died (crash, memory or CPU limit)"
            )
        if not reply[0].get("ok"):
            raise StudentError(reply[0].get("error", "?"), reply[0].get("traceback", ""))
        return reply[0]["result"]

    def output(self) -> str:
        """What the student's code printed, cut to the report's bound."""
        if not self.log.exists():
            return ""
        data = self.log.read_bytes()
        n = self.limits.log_bytes
        text = data[:n].decode(errors="replace")
        return text + (f"\n... [{len(data) - n:,} more bytes cut]" if len(data) > n else "")

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class StudentError(RuntimeError):
    """The student's code raised; args are the error line and the end of its traceback."""
