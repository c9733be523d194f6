"""Lambda's CPU share of a MemorySize, emulated with a cgroup CPU quota for the measured processes.

Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB, so 512 MB runs on 512/1769 of
a core. :class:`CpuShare` makes a cgroup of its own per measured process (``slot``), with a CFS quota of that
fraction of each 20 ms period: ``cpu.cfs_quota_us`` under cgroup v1's cpu controller, ``cpu.max`` under
cgroup v2. The period is shorter than any wait measured here (the fake API answers after 100 ms), so the
quota acts as the proportionally slower CPU Lambda's documentation describes, not as bursts that happen to
fall in step with the API's latency (with the kernel's default 100 ms period, a batch's CPU before and after
its 100 ms wait lands in two fresh periods, and a small share looks almost free). The child joins its
cgroup before the interpreter starts (:meth:`CpuShare.command`: a shell writes its own PID into the cgroup,
then execs the command), so the interpreter runs under the quota from its first instruction; the services
and the bench's own process stay outside. A ``preexec_fn`` would do the same but forces a plain fork, whose
child starts with the parent's resident pages counted in its ``ru_maxrss``. Above one vCPU (3,008 MB is
1.70) the quota is larger than the period: the process may run on both cores of this machine, and all its
threads together get at most 1.70 of a core per period, as Lambda's second, partial vCPU would give. A quota
is a ceiling: load from elsewhere on the machine can leave a process less than its share.

Where no cgroup can be made (no root, no cpu controller), the share is "not emulated" and says why; the
figures are then a full core's. Every cgroup made here is removed when the block ends.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

MB_PER_VCPU = 1769  # Lambda: one full vCPU at 1,769 MB (AWS Lambda developer guide, "Memory and computing power")
PERIOD_US = 20_000  # CFS period: a fifth of the kernel's default (see above)
MOUNTS = Path("/proc/mounts")


def vcpus(memory_mb: int) -> float:
    """The vCPUs Lambda gives a function of ``memory_mb``."""
    return memory_mb / MB_PER_VCPU


def _cpu_hierarchy(mounts: Path = MOUNTS) -> tuple[str, Path] | None:
    """("v1" | "v2", mount point) of the cgroup hierarchy that has the cpu controller, if any."""
    try:
        lines = mounts.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "cgroup" and "cpu" in fields[3].split(","):
            return "v1", Path(fields[1])
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            root = Path(fields[1])
            with contextlib.suppress(OSError):
                if "cpu" in (root / "cgroup.controllers").read_text(encoding="utf-8").split():
                    return "v2", root
    return None


class CpuShare:
    """``with CpuShare(512) as share:`` cgroups at 512/1769 of a vCPU; ``share.command(slot, argv)`` to run in one.

    ``share.emulated`` says whether the quota is real; ``share.describe()`` says how, or why not.
    """

    def __init__(self, memory_mb: int, *, mounts: Path = MOUNTS) -> None:
        self.memory_mb = memory_mb
        self.quota_us = round(vcpus(memory_mb) * PERIOD_US)
        self._mounts = mounts
        self._version = ""
        self._root: Path | None = None
        self._slots: dict[str, Path] = {}
        self.why_not = ""

    @property
    def emulated(self) -> bool:
        return self._root is not None

    @property
    def root(self) -> Path | None:
        """The cgroup that holds this share's slots, while the block runs and the share is emulated."""
        return self._root

    def describe(self) -> str:
        share = f"{vcpus(self.memory_mb):.3f} vCPU"
        if not self.emulated:
            return f"{share}: not emulated ({self.why_not})"
        knob = "cpu.cfs_quota_us" if self._version == "v1" else "cpu.max"
        return f"{share}: cgroup {self._version} {knob} {self.quota_us} us per {PERIOD_US} us"

    def __enter__(self) -> CpuShare:
        found = _cpu_hierarchy(self._mounts)
        if found is None:
            self.why_not = "no cgroup hierarchy with the cpu controller"
            return self
        version, mount = found
        root = mount / f"payment-session-bench-{os.getpid()}-{self.memory_mb}"
        try:
            root.mkdir()
            if version == "v2":
                (mount / "cgroup.subtree_control").write_text("+cpu", encoding="utf-8")
                (root / "cgroup.subtree_control").write_text("+cpu", encoding="utf-8")
        except OSError as error:
            with contextlib.suppress(OSError):
                root.rmdir()
            self.why_not = f"cannot make a cgroup in {mount}: {error.strerror}"
            return self
        self._version, self._root = version, root
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for slot in list(self._slots):
            self.release(slot)
        if self._root is not None:
            with contextlib.suppress(OSError):
                self._root.rmdir()
            self._root = None

    def _slot(self, slot: str) -> Path:
        assert self._root is not None
        path = self._slots.get(slot)
        if path is None:
            path = self._root / slot
            path.mkdir()
            if self._version == "v1":
                (path / "cpu.cfs_period_us").write_text(str(PERIOD_US), encoding="utf-8")
                (path / "cpu.cfs_quota_us").write_text(str(self.quota_us), encoding="utf-8")
            else:
                (path / "cpu.max").write_text(f"{self.quota_us} {PERIOD_US}", encoding="utf-8")
            self._slots[slot] = path
        return path

    def command(self, slot: str, argv: Sequence[str]) -> list[str]:
        """``argv`` to be run in cgroup ``slot`` (made now, with the quota); ``argv`` itself if not emulated.

        A slot gets a cgroup of its own, so that one process's spent quota never throttles another's start.
        """
        if not self.emulated:
            return list(argv)
        procs = str(self._slot(slot) / "cgroup.procs")
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, *argv]

    def release(self, slot: str) -> None:
        """Remove cgroup ``slot`` once its process has exited (a cgroup with a process in it cannot be removed)."""
        path = self._slots.pop(slot, None)
        if path is not None:
            with contextlib.suppress(OSError):
                path.rmdir()

    @contextlib.contextmanager
    def slot(self, slot: str, argv: Sequence[str]) -> Iterator[list[str]]:
        """``with share.slot(name, argv) as command:`` a fresh cgroup for one process, removed afterwards."""
        try:
            yield self.command(slot, argv)
        finally:
            self.release(slot)
