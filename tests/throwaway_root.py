"""A throwaway root for tests that install packages: this machine's own root filesystem seen through a
copy-on-write overlay, in a mount namespace of its own, so that what dpkg, adduser and the maintainer
scripts write lands in memory that is dropped at the end, and the machine's /etc, /opt, /usr and
/var/lib/dpkg are never written.

``throwaway_root(folder)`` starts a holder process in a private mount namespace (``unshare --mount
--propagation private``) that mounts, all in that namespace only:

* a tmpfs on ``folder`` (an empty folder of the test's; the machine never sees what is mounted on it),
  with ``upper/`` and ``work/`` for the overlay, which takes every write, and
* an overlay of ``/`` on ``folder/root``, with ``/proc``, ``/sys`` and ``/dev`` of the machine, and a fresh
  tmpfs on ``/run`` and ``/tmp``. ``/run`` is not the machine's: a maintainer script that finds
  ``/run/systemd/system`` would ask the machine's own systemd to reload, stop or restart units;

then chroots into that root and sleeps. Every command runs in it with ``nsenter --target <holder>
--mount --root --wd``; the test reaches the root's files from outside through ``/proc/<holder>/root``
(:attr:`ThrowawayRoot.path`), and must ask the root, not Python's ``pwd`` and ``grp`` (which read the
machine's /etc/passwd), for its users and groups. The network namespace is the machine's: a program in
the root reaches servers on loopback. Leaving the context kills whatever still runs in the root and the
holder: the namespace goes with its last process, and every mount with it.

The upper layer is a tmpfs rather than a folder of the test's own filesystem, which overlayfs may refuse
as an upper layer (an overlay, as a container's ``/`` often is), and so that nothing the root wrote is
left on disk. It needs root: CAP_SYS_ADMIN for the mounts.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["ENV", "ThrowawayRoot", "throwaway_root"]

# The environment of a command in the root: a root shell's, none of the test's (no venv, no PYTHONPATH).
ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}

# Run by sh in the new mount namespace, with the folder as $1. unshare makes every mount in it private
# first, so none of these is seen outside. It says ready from inside the root: from then on, its
# /proc/<pid>/root is the root's /. It dies with the test (--pdeathsig), even a killed one.
HOLDER = r"""
set -eu
folder=$1
mount -t tmpfs -o mode=0755 throwaway-root "$folder"
mkdir "$folder/upper" "$folder/work" "$folder/root"
mount -t overlay throwaway-root -o "lowerdir=/,upperdir=$folder/upper,workdir=$folder/work" "$folder/root"
root=$folder/root
mount --rbind /proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 throwaway-run "$root/run"
mkdir -m 1777 "$root/run/lock"
mount -t tmpfs -o mode=1777 throwaway-tmp "$root/tmp"
exec setpriv --pdeathsig KILL chroot "$root" sh -c 'echo ready && exec sleep infinity'
"""


class ThrowawayRoot:
    """A running throwaway root: run commands in it, read and write its files from outside."""

    def __init__(self, holder: subprocess.Popen[str]) -> None:
        self._holder = holder
        self.namespace = os.stat(f"/proc/{holder.pid}/ns/mnt").st_ino
        self.path = Path(f"/proc/{holder.pid}/root")  # the root's / seen from outside

    def __truediv__(self, path: str | Path) -> Path:
        """The root's ``path`` (absolute, as a program in the root names it) seen from outside."""
        return self.path / Path(path).relative_to("/")

    def command(self, *argv: str | Path) -> list[str]:
        """``argv`` as a command line that runs it in the root, as root, in its /."""
        target = f"--target={self._holder.pid}"
        return ["nsenter", target, "--mount", "--root", "--wd", "--", *(str(arg) for arg in argv)]

    def run(self, *argv: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run a command in the root, with :data:`ENV` and no stdin (a question fails it, not hangs it)."""
        return subprocess.run(
            self.command(*argv),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            cwd="/",
            env=ENV,
            stdin=subprocess.DEVNULL,
        )

    def copy_in(self, source: Path, folder: str = "/tmp") -> Path:  # noqa: S108 (the root's own tmpfs)
        """Copy a file of the machine into the root's ``folder``; its path as the root names it."""
        inside = Path(folder) / source.name
        shutil.copyfile(source, self / inside)
        return inside

    def processes(self) -> list[int]:
        """The processes that run in the root's mount namespace (the holder among them while it lives)."""
        found = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if os.stat(f"/proc/{entry.name}/ns/mnt").st_ino == self.namespace:
                        found.append(int(entry.name))
                except OSError:  # gone meanwhile
                    pass
        return found

    def close(self) -> None:
        """Kill what the test left running in the root, then the holder: the namespace and its mounts go."""
        for pid in self.processes():
            if pid != self._holder.pid:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._holder.kill()
        self._holder.communicate(timeout=30)
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.05)


@contextmanager
def throwaway_root(folder: Path) -> Iterator[ThrowawayRoot]:
    """A throwaway root mounted on ``folder`` (made here, and left empty on the machine)."""
    if os.geteuid() != 0:
        raise PermissionError("a throwaway root needs root: a mount namespace, a tmpfs and an overlay")
    folder.mkdir()
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", HOLDER, "sh", str(folder)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    assert holder.stdout is not None
    if holder.stdout.readline() != "ready\n":
        holder.kill()
        _, error = holder.communicate(timeout=30)
        raise RuntimeError(f"the throwaway root did not start: {error.strip()}")
    root = ThrowawayRoot(holder)
    try:
        # Never the machine's own /: the overlay is a filesystem of its own.
        assert os.stat(root.path).st_dev != os.stat("/").st_dev, "the throwaway root is the machine's /"
        yield root
    finally:
        root.close()
