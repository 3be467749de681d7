"""The generated docs folder: files are written only when their bytes change, atomically, and
files no longer produced are removed.

Why not rewrite everything: mkdocs' dirty reload (`mkdocs serve --dirty`), rsync and a
person's file browser all go by modification times; an incident that did not change keeps
its page's mtime. Why atomic (temp file + rename): `kb site serve` or a running mkdocs may
read the folder while a build writes it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from kb.errors import ConfigError

MARKER = ".kb-site-docs"  # says a folder is ours to prune


class Output:
    """Writes under `root`, which belongs to the site build alone: a folder that exists, holds
    files and lacks our marker is refused rather than pruned (a mistyped --out must never
    cost a person their files)."""

    def __init__(self, root: Path) -> None:
        if root.is_dir() and not (root / MARKER).exists() and any(root.iterdir()):
            raise ConfigError(f"{root} holds files `kb site build` did not write; "
                              "choose a new or empty build folder")
        root.mkdir(parents=True, exist_ok=True)
        (root / MARKER).touch()
        self.root = root
        self.produced: dict[str, str] = {}  # relative path → sha256 of the bytes
        self.written: list[str] = []
        self.unchanged = 0
        self.removed: list[str] = []

    def write(self, relative: str, content: str | bytes) -> bool:
        """Write one file if its bytes differ from what is there. True when written."""
        data = content.encode("utf-8") if isinstance(content, str) else content
        if relative in self.produced:
            raise ValueError(f"two pages want the same file: {relative}")
        self.produced[relative] = hashlib.sha256(data).hexdigest()
        path = self.root / relative
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                self.unchanged += 1
                return False
        except OSError:
            pass  # absent (or unreadable): write it
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        self.written.append(relative)
        return True

    @contextmanager
    def streamed(self, relative: str) -> Iterator[_Sink]:
        """Write one file through a handle (`.write(text)`), for a file too large to hold as
        one string (the export: 230 MB at 100k incidents). As `write`: the file is replaced,
        atomically, only when its bytes differ; nothing is replaced when the block raises."""
        if relative in self.produced:
            raise ValueError(f"two pages want the same file: {relative}")
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as handle:
                sink = _Sink(handle)
                yield sink
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.produced[relative] = sink.hash.hexdigest()
        if _same_file(path, tmp):
            tmp.unlink()
            self.unchanged += 1
            return
        tmp.replace(path)
        self.written.append(relative)

    def copy_tree(self, source: Path, prefix: str = "") -> None:
        """Copy every file under `source` (hand-written pages, assets) to `prefix`."""
        if not source.is_dir():
            return
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                self.write(prefix + path.relative_to(source).as_posix(), path.read_bytes())

    def prune(self) -> None:
        """Remove files (and then empty folders) this build did not produce."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*"), reverse=True):
            relative = path.relative_to(self.root).as_posix()
            if relative == MARKER:
                continue
            if path.is_dir() and not path.is_symlink():
                if not any(path.iterdir()):
                    path.rmdir()
            elif relative not in self.produced:
                path.unlink()
                self.removed.append(relative)

    def digest(self) -> str:
        """One hash of everything produced: equal digests, equal docs folders."""
        h = hashlib.sha256()
        for relative in sorted(self.produced):
            h.update(f"{relative}\0{self.produced[relative]}\n".encode())
        return h.hexdigest()


class _Sink:
    """A text handle writing UTF-8 bytes to a binary file and hashing them on the way."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.hash = hashlib.sha256()

    def write(self, text: str) -> int:
        self.write_bytes(text.encode("utf-8"))
        return len(text)

    def write_bytes(self, data: bytes) -> None:
        self.hash.update(data)
        self.handle.write(data)


def _same_file(old: Path, new: Path, block: int = 1 << 20) -> bool:
    """Whether two files hold the same bytes (False when `old` is missing or unreadable)."""
    try:
        if old.stat().st_size != new.stat().st_size:
            return False
        with old.open("rb") as a, new.open("rb") as b:
            while True:
                x, y = a.read(block), b.read(block)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False


def replace_dir(new: Path, target: Path) -> None:
    """Put the folder `new` where `target` is, keeping the window without a site short."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old)
