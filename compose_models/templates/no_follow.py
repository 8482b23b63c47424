"""Create files under a folder without following symbolic links and without replacing anything.

A folder ``init`` writes into may hold links someone planted (a cloned repository's ``chat/README.md`` ->
``~/.bashrc``, dangling until written through): every folder below the destination is opened with
``O_NOFOLLOW`` relative to its parent's descriptor, and every file is created with
``O_CREAT|O_EXCL|O_NOFOLLOW``, so neither a link nor a file that appeared since the check is written through.
"""

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from compose_models.errors import UserError

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def links_in(destination: Path, relative_paths: list[PurePath]) -> list[Path]:
    """The symbolic links among ``destination`` and the paths below it that writing ``relative_paths`` would use."""
    candidates = {destination}
    for relative in relative_paths:
        for depth in range(1, len(relative.parts) + 1):
            candidates.add(destination.joinpath(*relative.parts[:depth]))
    return sorted(path for path in candidates if path.is_symlink())


@contextmanager
def opened_folder(destination: Path) -> Iterator[int]:
    """A descriptor of ``destination``, created if absent (with its parents, which may be links the user made);
    ``destination`` itself must not be a link."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(destination, 0o777)
    except FileExistsError:
        pass
    descriptor = _open_folder(destination, None, destination)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def create_file(root: int, destination: Path, relative: PurePath, data: bytes, mode: int) -> None:
    """Write ``data`` to the new file ``destination/relative`` (``root`` is ``destination``'s descriptor), creating
    its folders; UserError naming the path when a link or an existing file is in the way."""
    folder = os.dup(root)
    shown = destination
    try:
        for part in relative.parts[:-1]:
            shown = shown / part
            try:
                os.mkdir(part, 0o777, dir_fd=folder)
            except FileExistsError:
                pass
            inner = _open_folder(shown, folder, part)
            os.close(folder)
            folder = inner
        target = destination / relative
        try:
            descriptor = os.open(relative.name, _FILE_FLAGS, mode, dir_fd=folder)
        except FileExistsError:  # also a link, dangling or not: O_EXCL does not follow it
            kind = "a symbolic link" if os.path.islink(target) else "a file"
            raise UserError(f"{target}: {kind} appeared there while init was writing; nothing was written to it") from None
        except OSError as error:
            raise _refusal(target, error) from None
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(descriptor, mode)  # exactly the template's mode, whatever the umask (the gateway's user reads api-keys)
            file.write(data)
    finally:
        os.close(folder)


def _open_folder(shown: Path, parent: int | None, name: str | Path) -> int:
    try:
        return os.open(name, _DIRECTORY_FLAGS, dir_fd=parent)
    except OSError as error:
        raise _refusal(shown, error) from None


def _refusal(path: Path, error: OSError) -> UserError:
    if error.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(path):
        return UserError(f"{path}: is a symbolic link; init writes nothing through a link (it may point outside the folder)")
    if error.errno == errno.ENOTDIR:
        return UserError(f"{path}: is not a folder")
    return UserError(f"{path}: cannot write: {error.strerror or error}")
