"""Output folders changed whole or not at all.

A build is written into a staging folder beside its destination (:func:`staging_folder`)
and moved in only once complete (:func:`install`): a failure or an interrupt (Ctrl-C)
before that removes the staging folder and leaves the destination as it was. The move
replaces file by file inside the destination rather than renaming folders, so the
destination keeps its identity (a shell or a vendor tool open in it, its permissions, a
mount point) and files that the build does not own stay where they are; the moves run with
Ctrl-C and SIGTERM held back and are undone if one fails.

A build that names its own folder in what it writes (the Verilator build of ``fpgagen
simulate`` reads its memory images by absolute path) must be made in place instead:
:func:`rebuilt_in_place` moves the previous build aside while the new one is made and puts
it back if that fails.
"""

import os
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

from ..errors import FpgagenError

__all__ = ["check_folder", "staging_folder", "install", "rebuilt_in_place",
           "refused_folder_message", "signals_deferred"]

#: Signals held back while files move (delivered when the move is over).
_DEFERRED = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None))
                  if s is not None)


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def _nearest_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if p.exists():
            return p
    return Path(path.anchor or ".")


def _can_create_in(folder: Path) -> OSError | None:
    """``None`` when a folder can be created (and removed) in ``folder``, else the error."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".fpgagen-probe-", dir=folder))
    except OSError as e:
        return e
    return None


def check_folder(path, *, what: str = "output folder") -> Path:
    """``path`` as a :class:`~pathlib.Path` once it is known that fpgagen can write a folder
    there; nothing is left behind.

    Raises
    ------
    FpgagenError
        For an empty path, a path that exists and is not a folder (or under a file), and a
        folder that cannot be written, or created in its parent (a read-only folder,
        ``/proc``, ``/sys``).
    """
    if path is None or str(path) == "":
        raise FpgagenError(f"the {what} is an empty path; name a folder ('.' for the current "
                           f"one)")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FpgagenError(f"{what} {str(path)!r} exists and is not a folder")
    real = path.resolve()
    # An existing folder gets the staging folder beside it (or inside it, for a mount
    # point) and the new files in it; a new one is created in its nearest existing parent.
    places = ([real, real.parent] if real.exists() and not os.path.ismount(real)
              else [_nearest_existing(real)])
    for place in places:
        if not place.is_dir():
            raise FpgagenError(f"cannot create the {what} {str(path)!r}: {str(place)!r} is "
                               f"not a folder")
        with signals_deferred():
            error = _can_create_in(place)
        if error is not None:
            raise FpgagenError(f"cannot write the {what} {str(path)!r}: {str(place)!r} "
                               f"takes no new folders ({_reason(error)})")
    return path


def _staging_parent(dest: Path) -> Path:
    return dest if dest.is_dir() and os.path.ismount(dest) else dest.parent


def _free_name(parent: Path, prefix: str) -> Path:
    """A name in ``parent`` that nothing has: ``<prefix><random>``."""
    for _ in range(100):
        path = parent / f"{prefix}{os.urandom(4).hex()}"
        if not os.path.lexists(path):
            return path
    raise FileExistsError(f"no free name {prefix}* in {str(parent)!r}")


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder in ``parent``, with the permissions ``mkdir`` gives (not the
    owner-only ones of :func:`tempfile.mkdtemp`)."""
    while True:
        path = _free_name(parent, prefix)
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) and SIGTERM for the block and deliver them when it ends, so
    that a sequence of moves is not cut in the middle. Only in the main thread (elsewhere
    Python cannot change signal handlers and the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = {}
    for sig in _DEFERRED:
        previous[sig] = signal.signal(sig, lambda signum, frame: caught.append((signum, frame)))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum, frame in caught[:1]:
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


@contextmanager
def staging_folder(dest) -> Iterator[Path]:
    """A new empty folder beside ``dest`` (in the same parent, named
    ``.<name>.tmp-<random>``; inside ``dest`` when it is a mount point) to write a build
    into; it is removed when the block ends, however it ends. :func:`install` moves the
    build into ``dest`` before that. The parents of ``dest`` are created."""
    dest = Path(dest).resolve()
    parent = _staging_parent(dest)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = _new_folder(parent, f".{dest.name or 'out'}.tmp-")
    except OSError as e:
        raise FpgagenError(f"cannot write in {str(parent)!r}: {_reason(e)}") from None
    try:
        yield stage
    finally:
        with signals_deferred():
            shutil.rmtree(stage, ignore_errors=True)


def _files(root: Path) -> list[str]:
    """Every file (or symbolic link) under ``root``, relative, ``/``-separated."""
    out = []
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        out += [(rel / f).as_posix() for f in files]
        out += [(rel / d).as_posix() for d in dirs if os.path.islink(os.path.join(folder, d))]
    return out


def _inside(root: Path, rel: str) -> bool:
    """``rel`` (``/``-separated) names an entry under the resolved folder ``root``: not
    ``root`` itself, nothing through ``..``, no absolute path, no symbolic link to a folder
    outside."""
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or ".." in p.parts:
        return False
    parent = root.joinpath(*p.parts).parent.resolve()
    return parent == root or root in parent.parents


def install(stage, dest, *, replace: Iterable[str] = (), last: Iterable[str] = ()) \
        -> list[str]:
    """Move the complete build in ``stage`` into ``dest``.

    When ``dest`` does not exist, ``stage`` is renamed to it. Otherwise every file of
    ``stage`` is moved to the same relative path in ``dest`` (folders created as needed),
    the files ``replace`` names (relative paths: what the previous build wrote) are removed
    from ``dest``, and so are the folders this leaves empty; other files in ``dest`` stay.
    The moves run with Ctrl-C held back (:func:`signals_deferred`); if one fails, those done
    are undone and ``dest`` is as it was. ``last``: files of ``stage`` moved after all the
    others (the report that says the build is complete).

    Returns
    -------
    list of str
        Files of ``dest`` that ``replace`` did not name and that a file of the build
        replaced (relative paths).

    Raises
    ------
    FpgagenError
        When the files cannot be moved (``dest`` is then as it was).
    """
    stage, dest = Path(stage), Path(dest).resolve()
    with signals_deferred():
        if not dest.exists():
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.rename(stage, dest)
            except OSError as e:
                raise FpgagenError(f"cannot move the new build into {str(dest)!r}: "
                                   f"{_reason(e)}") from None
            return []
        last = [f for f in last]
        new = sorted(f for f in _files(stage) if f not in last) + \
            [f for f in last if os.path.lexists(stage / f)]
        old = {f for f in replace if _inside(dest, f)}
        return _swap(stage, dest, new, old)


def _swap(stage: Path, dest: Path, new: list[str], old: set[str]) -> list[str]:
    backup = _new_folder(_staging_parent(dest), f".{dest.name or 'out'}.old-")
    displaced, moved, made = [], [], []
    try:
        for rel in sorted(old | set(new)):
            src = dest / rel
            if os.path.islink(src) or src.is_file():
                (backup / rel).parent.mkdir(parents=True, exist_ok=True)
                os.rename(src, backup / rel)
                displaced.append(rel)
        for rel in new:
            target = dest / rel
            missing = [d for d in target.parents if dest in d.parents and not d.exists()]
            for d in reversed(missing):
                d.mkdir()
                made.append(d)
            os.rename(stage / rel, target)
            moved.append(rel)
    except BaseException as e:
        failed = []
        for undo in ([lambda r=r: os.rename(dest / r, stage / r) for r in reversed(moved)]
                     + [lambda d=d: d.rmdir() for d in reversed(made)]
                     + [lambda r=r: os.rename(backup / r, dest / r)
                        for r in reversed(displaced)]):
            try:
                undo()
            except OSError:
                failed.append(undo)
        if failed:
            raise FpgagenError(f"moving the new build into {str(dest)!r} failed and could "
                               f"not be undone; the previous files are in "
                               f"{str(backup)!r}") from e
        shutil.rmtree(backup, ignore_errors=True)
        if isinstance(e, OSError):
            raise FpgagenError(f"cannot move the new build into {str(dest)!r}: "
                               f"{_reason(e)}") from None
        raise
    # Folders that held only removed files go too.
    folders = {d for rel in set(displaced) - set(new) for d in (dest / rel).parents
               if dest in d.parents}
    for d in sorted(folders, key=lambda d: len(d.parts), reverse=True):
        try:
            d.rmdir()
        except OSError:
            pass
    shutil.rmtree(backup, ignore_errors=True)
    return sorted(set(displaced) - old)


def refused_folder_message(folder, *, what: str = "build folder") -> str:
    """Why :func:`rebuilt_in_place` refuses ``folder``."""
    return (f"{what} {str(folder)!r} is not empty and holds no previous build of fpgagen; "
            f"name a new or empty folder")


@contextmanager
def rebuilt_in_place(folder, *, previous: Callable[[Path], bool],
                     what: str = "build folder") -> Iterator[Path]:
    """Make a build in ``folder`` itself, for builds that name their own folder in what they
    write. A previous build there is moved aside (to ``.<name>.old-<random>`` beside it)
    and a new empty folder takes its place for the block; when the block ends normally the
    previous build is deleted, when it raises (or is interrupted) the half-made folder is
    deleted and the previous build put back. An empty ``folder`` is used as it is (and
    emptied again on failure); a new one is created (and removed on failure).

    ``previous(folder)`` tells whether a non-empty ``folder`` holds a previous build of
    this kind; other non-empty folders are refused (nothing in them is touched).
    """
    folder = Path(folder).resolve()
    existed = folder.is_dir()
    aside = None
    if existed and any(folder.iterdir()):
        if not previous(folder):
            raise FpgagenError(refused_folder_message(folder, what=what))
        aside = _free_name(folder.parent, f".{folder.name}.old-")
    with signals_deferred():
        try:
            if aside is not None:
                os.rename(folder, aside)
            if aside is not None or not existed:
                folder.mkdir(parents=True)
        except OSError as e:
            if aside is not None and aside.exists() and not folder.exists():
                os.rename(aside, folder)
            raise FpgagenError(f"cannot prepare the {what} {str(folder)!r}: "
                               f"{_reason(e)}") from None
    try:
        yield folder
    except BaseException:
        with signals_deferred():
            if existed and aside is None:
                for entry in list(folder.iterdir()):
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
            else:
                # Renamed before it is removed: a build tool still writing there (a
                # compiler the interrupted build started) cannot keep the name taken.
                try:
                    if folder.exists():
                        trash = _free_name(folder.parent, f".{folder.name}.failed-")
                        os.rename(folder, trash)
                        shutil.rmtree(trash, ignore_errors=True)
                    if aside is not None:
                        os.rename(aside, folder)
                except OSError as e:
                    kept = f"; the previous build is in {str(aside)!r}" if aside else ""
                    raise FpgagenError(f"cannot clean up the {what} {str(folder)!r}: "
                                       f"{_reason(e)}{kept}") from e
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
