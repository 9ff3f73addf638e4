"""One folder of a local escrow, opened so that no symbolic link is ever followed (security review L5).

On POSIX every folder is opened with ``O_NOFOLLOW | O_DIRECTORY``, checked to belong to the user running
pulumi, made 0700 whatever it was, and its children are reached through that descriptor (``dir_fd``), so a
link swapped in between a check and a write is refused too (as the review proposes, after ssh's checks of its
key folder). Elsewhere (Windows) mode bits do not apply: the same refusals are made by path and the folder's
ACL is the operator's to set.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from types import TracebackType

from provider.errors import EssoError
from provider.escrow.base import log

DIR_MODE = 0o700
FILE_MODE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
# os.replace takes dir fds wherever os.rename does (both are renameat); supports_dir_fd lists only the latter.
_BY_FD = os.name == "posix" and {os.open, os.mkdir, os.rename, os.unlink, os.stat} <= os.supports_dir_fd


def _refused(path: Path, why: str) -> EssoError:
    return EssoError(
        "ESSO-023",
        f"{path} {why}; the escrow follows no symbolic links and keeps only folders and files of the user running "
        "pulumi: replace it with a real folder (or file) owned by that user.",
        step="escrow",
    )


# ---------------------------------------------------------------------------------------- a folder


class Folder:
    """An open folder of the escrow: its children are reached through it, never through a symbolic link."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    @classmethod
    def root(cls, path: Path, create: bool) -> Folder | None:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if not create:
                return None
            path.mkdir(mode=DIR_MODE, parents=True)
            info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise _refused(path, "is a symbolic link or not a folder")
        return cls._opened(path, None, path)

    @classmethod
    def _opened(cls, path: Path, parent: int | None, name: str | Path) -> Folder:
        """Open (by descriptor where possible), check the owner, and make the folder 0700."""
        if not _BY_FD:
            return cls(path, None)
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError:  # ELOOP: a symbolic link; ENOTDIR: a file
            raise _refused(path, "is a symbolic link or not a folder") from None
        try:
            info = os.fstat(fd)
            if info.st_uid != os.geteuid():
                raise _refused(path, f"belongs to user id {info.st_uid}, not to the user running pulumi")
            if stat.S_IMODE(info.st_mode) != DIR_MODE:
                os.fchmod(fd, DIR_MODE)
                log.info("escrow: made %s private (mode %o, was %o)", path, DIR_MODE, stat.S_IMODE(info.st_mode))
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def child(self, name: str, create: bool) -> Folder | None:
        path = self.path / name
        if self.fd is None:  # no descriptors (Windows): the same refusals, by path
            if path.is_symlink():
                raise _refused(path, "is a symbolic link")
            if not path.exists():
                if not create:
                    return None
                path.mkdir(mode=DIR_MODE)
            if not path.is_dir():
                raise _refused(path, "is not a folder")
            return Folder(path, None)
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, DIR_MODE, dir_fd=self.fd)
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return self._opened(path, self.fd, name)

    def read(self, name: str) -> bytes | None:
        """The file's bytes, None when it does not exist; a link or anything but a regular file is refused."""
        path = self.path / name
        try:
            if self.fd is None:
                if path.is_symlink():
                    raise _refused(path, "is a symbolic link")
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            else:
                fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        except OSError:
            raise _refused(path, "is a symbolic link or cannot be opened") from None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise _refused(path, "is not a regular file")
            return handle.read()

    def names(self) -> list[str]:
        return sorted(os.listdir(self.fd if self.fd is not None else self.path))

    def _at(self, name: str) -> str | Path:
        return name if self.fd is not None else self.path / name

    def rename(self, source: str, target: str) -> None:
        os.replace(self._at(source), self._at(target), src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def remove(self, name: str) -> None:
        """Unlink ``name`` in this folder (never through a link: only the entry itself goes)."""
        os.unlink(self._at(name), dir_fd=self.fd)

    def write(self, name: str, data: bytes) -> None:
        """Write ``name`` (mode 0600) through a fresh temporary file in this folder, then flush the folder."""
        tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | _NOFOLLOW
        fd = os.open(self._at(tmp), flags, FILE_MODE, dir_fd=self.fd)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if hasattr(os, "fchmod"):
                    os.fchmod(handle.fileno(), FILE_MODE)
                os.fsync(handle.fileno())
            self.rename(tmp, name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._at(tmp), dir_fd=self.fd)
            raise
        if self.fd is not None:
            os.fsync(self.fd)
