"""Writing files so that no reader, kill or full disk ever leaves half of one.

Every file minilm writes goes through here. It is written under a temporary name in the target's
own folder (``.STEM.tmp-XXXXXXXX.SUFFIX``: same file system, so the rename is atomic, and the
suffix kept for libraries that pick a format by it), flushed and fsynced, renamed over the target
with ``os.replace``, and the folder is fsynced. On any error the temporary is removed and the old
file, if there was one, is untouched.

    with atomic_write("vectors.jsonl", "w", encoding="utf-8") as f:   # a file object
        f.write(...)
    with atomic_path("model.onnx") as tmp:                            # a path, for writers that take one
        onnx.save(model, str(tmp))
    with atomic_folder("export/") as stage:                           # several files, moved in together
        (stage / "model.webnn").write_text(...)

Targets: a symlink is followed (the file it points to is replaced, the link stays); a folder where
a file is wanted and a special file (device, FIFO, socket) are refused with InputError, before
anything is written. A full disk is reported as ``OSError(ENOSPC)`` naming the target and saying
the disk is full (numpy's own message, "76800 requested and 15328 written", names neither).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Iterator

from .errors import InputError

TEMP = re.compile(r"\..+\.tmp-[0-9a-f]{8}(\.[^.]*)?")  # what temp_name() makes: strays after a kill
DISK_FULL = "No space left on device (the disk is full: free some space, then run the command again)"
_LOW = 1 << 20  # bytes free below which a short write with no errno (numpy's) is taken for a full disk
_SPECIAL = [(stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"), (stat.S_ISFIFO, "FIFO (named pipe)"),
            (stat.S_ISSOCK, "socket")]


def is_temp(name: str) -> bool:
    return TEMP.fullmatch(name) is not None


def temp_name(target: Path) -> Path:
    return target.with_name(f".{target.stem}.tmp-{secrets.token_hex(4)}{target.suffix}")


def output_file(path: str | os.PathLike) -> Path:
    """The regular file to write for PATH: a symlink's target; InputError for a folder or a special file."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    except OSError:
        return target  # unreadable: let the write itself say why
    if stat.S_ISDIR(mode):
        raise InputError(f"{path} is a folder; give a file name inside it (e.g. {path / ('out' + (path.suffix or '.npy'))})")
    kind = next((name for test, name in _SPECIAL if test(mode)), None)
    if kind:
        raise InputError(f"{path} is a {kind}, not a regular file: minilm writes a new file and renames it over the old "
                         "one, which would replace it; give the path of a regular file")
    return target


def remove_temps(target: str | os.PathLike) -> list[str]:
    """Delete temporaries of TARGET left by a killed writer (``.STEM.tmp-*SUFFIX`` beside it)."""
    target = output_file(target)
    prefix, removed = f".{target.stem}.tmp-", []
    with contextlib.suppress(FileNotFoundError):
        for file in target.parent.iterdir():
            if file.name.startswith(prefix) and is_temp(file.name) and file.name.endswith(target.suffix) and file.is_file():
                file.unlink(missing_ok=True)
                removed.append(file.name)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside PATH; when the block ends without error it replaces PATH."""
    target = output_file(path)
    tmp = temp_name(target)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        full = is_disk_full(exc, target.parent)
        with contextlib.suppress(OSError):
            tmp.unlink()
        _reraise(exc, translate(exc, {tmp: target}, full))
    fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None, newline: str | None = None):
    """Yield a file object open on a temporary beside PATH (mode "w"/"wb"); it replaces PATH when the block ends."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes a whole new file: mode 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode.replace("w", "x"), encoding=encoding, newline=newline) as f:
            yield f
            f.flush()


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty staging folder beside PATH; when the block ends without error its files are in PATH.

    PATH absent: the staging folder is renamed to it (atomic). PATH a folder: each staged file is
    renamed over its namesake there, other files in PATH are left alone. On error nothing of PATH changes.
    """
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.exists() and not target.is_dir():
        raise InputError(f"{path} exists and is not a folder; give a folder path (it is created if missing)")
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    stage.mkdir()
    try:
        yield stage
        files = sorted(p for p in stage.rglob("*") if p.is_file())
        for file in files:
            fsync_file(file)
        if not target.exists():
            os.rename(stage, target)
        else:
            for entry in sorted(stage.iterdir()):
                dest = target / entry.name
                if entry.is_dir() and dest.exists():
                    raise InputError(f"{dest} already exists; remove it or write to a new folder")
                os.replace(entry, dest)
        fsync_dir(target)
        fsync_dir(target.parent)
    except BaseException as exc:
        full = is_disk_full(exc, target.parent)
        shutil.rmtree(stage, ignore_errors=True)
        _reraise(exc, translate(exc, {stage: target}, full))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def is_disk_full(exc: BaseException, folder: Path) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    if any(s in text for s in ("No space left on device", "os error 28", "errno 28", "Disk quota exceeded")):
        return True  # tokenizers (Rust) and pyarrow raise their own types with the OS message inside
    if isinstance(exc, OSError) and exc.errno is None and "written" in text:  # numpy: "N requested and M written"
        with contextlib.suppress(OSError):
            return shutil.disk_usage(folder).free < _LOW
    return False


def translate(exc: BaseException, names: dict[Path, Path], full: bool) -> BaseException:
    """EXC with temporary names replaced by the targets'; a full disk as OSError(ENOSPC) naming the target."""
    def rename(filename):
        if filename is None:
            return None
        for tmp, target in names.items():
            text = str(filename)
            if text == str(tmp) or text.startswith(str(tmp) + os.sep):
                return str(target) + text[len(str(tmp)):]
        return str(filename)
    if full:
        filename = getattr(exc, "filename", None) if isinstance(exc, OSError) else None
        return OSError(errno.ENOSPC, DISK_FULL, rename(filename) or str(next(iter(names.values()))))
    if isinstance(exc, OSError) and exc.filename is not None and rename(exc.filename) != str(exc.filename):
        return type(exc)(exc.errno, exc.strerror, rename(exc.filename))
    return exc


def _reraise(exc: BaseException, new: BaseException):
    if new is exc:
        raise exc
    raise new from exc


def fsync_file(path: Path) -> None:
    """Flush PATH's data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make renames in PATH durable (a no-op where the file system cannot fsync a folder)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)
