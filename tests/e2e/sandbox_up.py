"""``python -m sandbox up`` as a user runs it: its own process, on fixed ports, stopped with Ctrl-C (SIGINT to its
process group); and the lines its banner prints, run as printed from a shell that has not activated ``.venv``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from sandbox.aws.stack import ROOT
from sandbox.up import BANNER_END
from tests.support import AWS_ENDPOINT_VARIABLES, poll

START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 60.0


def clean_environment() -> dict[str, str]:
    """This process's environment as a fresh shell's: no AWS or Python settings, no ``.venv`` on ``PATH``."""
    venv_bin = str(Path(sys.executable).parent)
    path = [part for part in os.environ.get("PATH", "").split(os.pathsep) if part and part != venv_bin]
    dropped = {*AWS_ENDPOINT_VARIABLES, "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    kept = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("AWS_")}
    return {**kept, "PATH": os.pathsep.join(path)}


class Up:
    """``python -m sandbox up`` on ``aws_port`` and ``payments_port``, its output in ``log``."""

    def __init__(self, aws_port: int, payments_port: int, log: Path, extra: Sequence[str] = ()) -> None:
        self.argv = [sys.executable, "-m", "sandbox", "up", "--aws-port", str(aws_port)]
        self.argv += ["--payments-port", str(payments_port), "--function-log", str(log.with_suffix(".function.log"))]
        self.argv += list(extra)
        self.log = log
        self._output: IO[str] | None = None
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> Up:
        self._output = open(self.log, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env={**clean_environment(), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        return self

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def wait_until_up(self, timeout: float = START_TIMEOUT_SECONDS) -> bool:
        """Poll (bounded) until the banner is complete or the process has ended; whether the banner is."""
        assert self.process is not None
        process = self.process
        poll(self.output, lambda text: BANNER_END in text or process.poll() is not None, timeout=timeout, interval=0.2)
        return BANNER_END in self.output()

    def banner(self) -> list[str]:
        text = self.output()
        return text[: text.index(BANNER_END)].splitlines()

    def interrupt(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """Ctrl-C: SIGINT to its process group; its exit status once it has stopped (killed after ``timeout``)."""
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
            raise
        finally:
            if self._output is not None:
                self._output.close()

    def __enter__(self) -> Up:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.interrupt()
        elif self._output is not None:
            self._output.close()


def block(banner: Sequence[str], heading: str) -> list[str]:
    """The banner's lines after the one starting with ``heading``, up to the next blank line."""
    start = next(n for n, line in enumerate(banner) if line.startswith(heading)) + 1
    end = next((n for n in range(start, len(banner)) if not banner[n].strip()), len(banner))
    return list(banner[start:end])


def run_in_shell(
    exports: Sequence[str], line: str, cwd: Path, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``line`` as printed, in a fresh ``sh`` in ``cwd`` after the banner's ``export`` lines, without ``.venv``."""
    script = "\n".join([*exports, line])
    return subprocess.run(
        ["/bin/sh", "-c", script],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
