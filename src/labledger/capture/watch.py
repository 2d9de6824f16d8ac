"""Folder watches (Linux inotify): has anything changed in these folders since they were watched?

The capture caches validate an entry by the stat of every file and folder it depends on; in a
repository that is hundreds of system calls per run, each of which gives up the interpreter
lock. A ``FolderWatch`` answers the same question with one ``read`` of an inotify descriptor
while nothing happened: the kernel queues an event for every write, attribute change, creation,
removal or rename in a watched folder before the system call that made it returns.

A watch is only a fast path in front of the stat comparison, never a replacement: the stats
are compared after any event, after the kernel dropped events, when a
watched folder went away or was replaced, after a fork, and on file systems whose changes can
come from elsewhere (network and FUSE mounts, where inotify sees only local writes). Folders
whose parent is not watched too are stat-checked on every call, so a folder swapped in under
the same path is seen.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["FolderWatch", "watch_folders"]

# inotify(7) event masks.
_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_UNMOUNT = 0x2000
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x1000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
)
_LOST = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_UNMOUNT | _IN_Q_OVERFLOW | _IN_IGNORED
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)
MAX_FOLDERS = 20_000  # more and the stat comparison is used (watches are a per-user limit)

# File systems whose every change passes through this kernel (inotify sees it).
LOCAL_FILESYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "f2fs", "overlay", "zfs", "bcachefs"}
)

_libc: Any = None
_watches: weakref.WeakSet[FolderWatch] = weakref.WeakSet()


def _load_libc() -> Any:
    global _libc
    if _libc is None:
        import ctypes

        # The C library the interpreter is linked with: looking it up by name
        # (``ctypes.util.find_library``) runs ldconfig, tens of ms of a first capture.
        libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(libc, "inotify_init1"):
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        _libc = libc
    return _libc


def _local_devices() -> set[int]:
    """The device numbers of this machine's mounts of local file systems."""
    devices: set[int] = set()
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            fields = line.split()
            try:
                fstype = fields[fields.index("-") + 1]
                major, minor = fields[2].split(":")
            except (ValueError, IndexError):
                continue
            if fstype in LOCAL_FILESYSTEMS:
                devices.add(os.makedev(int(major), int(minor)))
    return devices


class FolderWatch:
    """An inotify descriptor on some folders; ``unchanged()`` tells whether nothing happened.

    ``folders`` maps each folder to the names in it that matter (None: every entry)."""

    def __init__(self, fd: int, names: dict[int, frozenset[str] | None], anchors: Any) -> None:
        self._fd: int | None = fd
        self._names = names  # watch descriptor -> names that count (None: all)
        self._anchors = anchors  # [(path, (dev, ino))]: folders whose parent is not watched
        self._lock = threading.Lock()
        self._pid = os.getpid()
        _watches.add(self)

    def unchanged(self, check: Callable[[], bool]) -> bool:
        """Whether nothing the watch stands for changed: True at once when no event came since
        the last call, else ``check()`` (the stat comparison) decides. Once ``check`` says
        changed, the watch is spent and every later call asks ``check``."""
        with self._lock:  # a second caller must not see "no events" while the first checks
            if self._quiet():
                return True
            if check():
                return True
            self._close()
            return False

    def _quiet(self) -> bool:
        """No event since the last drain, and every anchor folder still the same one."""
        fd = self._fd
        if fd is None or self._pid != os.getpid():
            return False
        quiet = self._drain(fd)
        for path, identity in self._anchors:
            try:
                st = os.stat(path)
            except OSError:
                return False
            if (st.st_dev, st.st_ino) != identity:
                quiet = False
        return quiet

    def _drain(self, fd: int) -> bool:
        quiet = True
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return quiet
            except OSError:
                self._close()
                return False
            if not data:
                return quiet
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                offset = start + length
                if mask & _LOST:
                    self._close()  # a folder went away, or events were dropped: stats decide
                    return False
                wanted = self._names.get(wd)
                if wanted is None:
                    quiet = False
                    continue
                name = data[start:offset].split(b"\0", 1)[0]
                if os.fsdecode(name) in wanted:
                    quiet = False

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(fd)

    def __del__(self) -> None:
        self._close()


def watch_folders(folders: Mapping[Path, Iterable[str] | None]) -> FolderWatch | None:
    """Watch ``folders`` ({folder: names that count, or None for every entry}); None when
    watching is not possible here (not Linux, a non-local file system, too many folders, the
    per-user inotify limits), and the caller compares stats every time.

    Call it *before* taking the stats the watch stands in for: a change after the call is
    then either in those stats or an event."""
    if not sys.platform.startswith("linux") or not folders or len(folders) > MAX_FOLDERS:
        return None
    try:
        libc = _load_libc()
        local = _local_devices()
    except (OSError, AttributeError):
        return None
    fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    if fd < 0:
        return None
    names: dict[int, frozenset[str] | None] = {}
    identities: dict[Path, tuple[int, int]] = {}
    try:
        for folder, wanted in folders.items():
            wd = libc.inotify_add_watch(fd, os.fsencode(folder), _MASK)
            if wd < 0:
                raise OSError(f"cannot watch {folder}")
            st = os.stat(folder)
            if st.st_dev not in local:
                raise OSError(f"{folder} is not on a local file system")
            names[wd] = None if wanted is None else frozenset(wanted)
            identities[folder] = (st.st_dev, st.st_ino)
    except OSError:
        os.close(fd)
        return None
    anchors = [(str(p), identities[p]) for p in identities if p.parent not in identities]
    return FolderWatch(fd, names, anchors)


def _after_fork_in_child() -> None:
    # The descriptor is shared with the parent: reading it here would steal its events.
    for watch in list(_watches):
        fd, watch._fd = watch._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # the child's copy only


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
