"""Least privilege for the ``layerping`` command: no capability once its sockets are open, and the
invoking user's rights for every file a user names.

Two rules, after iputils ``ping`` (which holds no capability once its socket is open: CapEff 0 in
``/proc/PID/status``) and ``tcpdump -Z`` (which opens the files it writes as the user it runs as):

* :func:`drop` is called once, where a run's sockets are all open (cli.run after the transport
  and its tee; multicli.run_many after prepare_many). Every socket a run needs, its ARP socket
  included, is opened before that; nothing is opened with a privilege afterwards. Root gives up
  every capability: the bounding set (so no exec could regain one), then effective, permitted
  and inheritable with capset(2) (ambient ones go with them). Started through sudo (euid 0,
  ``SUDO_UID``/``SUDO_GID`` set), the process also becomes the invoking user: the user's groups,
  setresgid, setresuid, with PR_SET_KEEPCAPS left off so the kernel clears the capabilities too
  (capabilities(7), "Effect of user ID changes on capabilities"). A drop that fails stops the
  run (fail closed): one line, exit 2. capset(2) and prctl(2) act on the calling thread only: the
  command has one thread then (the many-target sender thread or process starts with the run, and
  inherits the empty sets).
* :func:`open_user_file` opens ``--pcap``, ``--targets-file``, ``--exclude-file`` and
  ``--decode-pcap``. Before the drop, under sudo, it opens them with the invoking user's file
  system identity (setfsuid/setfsgid and the user's groups, for this one open only), so the kernel
  checks the user's rights and a file it creates belongs to the user; after the drop the process
  *is* that user. Why not simply open every file after the drop, as tcpdump does: with many
  targets the first line of the targets file decides the path, so the interface and the sockets,
  and a file cannot wait for the sockets it decides. One temporary file identity covers both
  orders. In either case the last component of the path is followed as the kernel's
  ``fs.protected_symlinks`` and ``fs.protected_regular`` would (also where they are off): no
  symlink, nor existing file, that another user planted in a sticky world-writable directory
  such as /tmp.

Only the command does either (``_entry.main`` calls :func:`for_command`): a program that imports
layerping as a library keeps its own privileges, and its files are its own business.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

from layerping.errors import LayerpingError

_command = False
_dropped = False
_libc: Any = None

# include/uapi/linux/capability.h and prctl.h
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_CAP_HEADER = struct.Struct("=Ii")  # version, pid (0: this thread)
_CAP_DATA = struct.Struct("=6I")  # 2 x (effective, permitted, inheritable): 64 capabilities
_PR_CAPBSET_DROP = 24
_LAST_CAP_FALLBACK = 63


class PrivilegeError(LayerpingError):
    """The process could not give up its privileges (the run stops rather than go on as root)."""


def for_command() -> None:
    """This process is the ``layerping`` command: drop privileges, open files as the user."""
    global _command
    _command = True


def invoking_user() -> tuple[int, int] | None:
    """(uid, gid) of the user this root process runs for, or None when that user is root itself.

    sudo(8) runs the command with real and effective uid 0 and says who asked in ``SUDO_UID`` and
    ``SUDO_GID``. A set-user-ID root installation has a real uid of its own: that user.
    """
    if os.geteuid() != 0:
        return None
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
    if not (uid.isascii() and uid.isdigit() and gid.isascii() and gid.isdigit()):
        return None
    if int(uid) == 0:
        return None
    return int(uid), int(gid)


def drop() -> None:
    """Give up every capability (and, under sudo, root) now that the run's sockets are open."""
    global _dropped
    if not _command or _dropped:
        return
    _dropped = True
    user = invoking_user()
    if os.geteuid() != 0 and not _holds_capabilities():
        return  # an ordinary user (ICMP datagram socket): nothing to give up, and no ctypes
    libc = _load_libc()
    try:
        _drop_bounding_set(libc)
        if user is not None:
            uid, gid = user
            os.setgroups(_groups_of(uid, gid))
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)  # KEEPCAPS is off: the kernel clears the capabilities
        _capset(libc, 0)
        if _capabilities(libc) != 0 or (user is not None and os.getresuid() != (user[0],) * 3):
            raise OSError(errno.EPERM, "the kernel kept some of them")
    except OSError as exc:
        raise PrivilegeError(
            f"cannot give up root privileges: {exc.strerror}",
            "layerping stops rather than run on with them (a container or security policy may "
            "forbid setgroups/setresuid/capset; run as the user instead, with ping_group_range "
            "for --layer icmp)",
        ) from None


@overload
def open_user_file(path: str, mode: Literal["r"]) -> TextIO: ...
@overload
def open_user_file(path: str, mode: Literal["rb", "wb"]) -> BinaryIO: ...
def open_user_file(path: str, mode: str) -> IO[Any]:
    """Open ``path`` (named by the user) with the invoking user's rights; ``mode`` r, rb or wb.

    Raises OSError as :func:`open` does (``strerror`` says why), also for a symlink or file that
    another user planted in a sticky world-writable directory. Text is UTF-8, undecodable bytes
    replaced (a targets file is only ever parsed, never echoed in full).
    """
    writing = mode == "wb"
    flags = os.O_CLOEXEC | os.O_NOCTTY | (os.O_WRONLY | os.O_CREAT if writing else os.O_RDONLY)
    user = invoking_user() if _command and not _dropped else None
    if user is None:
        fd = _open_protected(path, flags, os.geteuid())
    else:
        with _file_identity(*user):
            fd = _open_protected(path, flags, user[0])
    def opened(_path: str, _flags: int) -> int:
        return fd  # through open() all the same: the stream's name is the path

    if mode == "r":
        return open(path, encoding="utf-8", errors="replace", opener=opened)
    return open(path, mode, opener=opened)


# -- files -------------------------------------------------------------------------------------


def _open_protected(path: str, flags: int, uid: int) -> int:
    """os.open, following a last-component symlink and reusing an existing file (O_CREAT) only
    where fs.protected_symlinks and fs.protected_regular would (Documentation/admin-guide/
    sysctl/fs.rst): not when another user owns it in a sticky world-writable directory, unless
    that user owns the directory. A link or file the user owns there cannot be swapped by others
    (the sticky bit), so checking after the first look is not a race."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        if _planted(os.lstat(path).st_uid, path, uid):
            raise OSError(
                errno.EACCES, "a symlink another user made in a shared sticky directory (not followed)"
            ) from None
        fd = os.open(path, flags, 0o666)
    try:
        if flags & os.O_CREAT:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode):
                if _planted(info.st_uid, path, uid):
                    raise OSError(errno.EACCES, "a file another user owns in a shared sticky directory")
                os.ftruncate(fd, 0)  # "wb" truncates, but only once the file is known to be ours
    except BaseException:
        os.close(fd)
        raise
    return fd


def _planted(owner: int, path: str, uid: int) -> bool:
    if owner == uid:
        return False
    directory = os.stat(os.path.dirname(path) or ".")
    sticky_shared = directory.st_mode & stat.S_ISVTX and directory.st_mode & stat.S_IWOTH
    return bool(sticky_shared) and owner != directory.st_uid


@contextmanager
def _file_identity(uid: int, gid: int) -> Iterator[None]:
    """The user's file system identity for one open (setfsuid(2): this thread, files only; the
    kernel clears the file capabilities while fsuid is not 0 and restores them after)."""
    libc = _load_libc()
    saved_groups = os.getgroups()
    os.setgroups(_groups_of(uid, gid))
    libc.setfsgid(gid)
    libc.setfsuid(uid)
    try:
        if libc.setfsuid(-1) != uid or libc.setfsgid(-1) != gid:  # an invalid id only reads it back
            raise OSError(errno.EPERM, "cannot take the invoking user's file identity")
        yield
    finally:
        libc.setfsuid(0)
        libc.setfsgid(0)
        os.setgroups(saved_groups)


def _groups_of(uid: int, gid: int) -> list[int]:
    """The user's supplementary groups, as initgroups(3) sets them at login (tcpdump -Z too)."""
    import pwd

    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        return [gid]  # no such user in the passwd database: the primary group alone
    return os.getgrouplist(name, gid)


# -- capabilities --------------------------------------------------------------------------------


def _load_libc() -> Any:
    global _libc
    if _libc is None:
        import ctypes  # 1-2 ms: only root and capability holders get here

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _holds_capabilities() -> bool:
    """Any capability in the permitted or ambient set (a file capability, say)?"""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith((b"CapPrm:", b"CapAmb:", b"CapEff:")) and int(line.split()[1], 16):
                    return True
    except OSError:
        return True  # cannot tell: capget will
    return False


def _drop_bounding_set(libc: Any) -> None:
    """Empty the bounding set (needs CAP_SETPCAP; without it, skipped: no exec then gains a
    capability anyway once permitted and inheritable are empty)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = _LAST_CAP_FALLBACK
    for cap in range(last + 1):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            return  # EPERM (no CAP_SETPCAP) or EINVAL (past the kernel's last capability)


def _capset(libc: Any, value: int) -> None:
    header = _CAP_HEADER.pack(_LINUX_CAPABILITY_VERSION_3, 0)
    data = _CAP_DATA.pack(*([value] * 6))
    if libc.capset(header, data) != 0:
        import ctypes

        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _capabilities(libc: Any) -> int:
    """This thread's effective, permitted and inheritable sets OR-ed together."""
    import ctypes

    header = ctypes.create_string_buffer(_CAP_HEADER.pack(_LINUX_CAPABILITY_VERSION_3, 0))
    data = ctypes.create_string_buffer(_CAP_DATA.size)
    if libc.capget(header, data) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    combined = 0
    for word in _CAP_DATA.unpack(data.raw):
        combined |= word
    return combined
