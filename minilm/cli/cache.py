"""The ``minilm cache`` command: where the model cache is, what it holds, and pruning or clearing it."""

from __future__ import annotations

import argparse
import json
import time

RAW = argparse.RawDescriptionHelpFormatter

HELP = """The model cache keeps each model as optimised for an engine (ONNX Runtime, OpenVINO, and
OpenVINO's compiled image), so that a new process loads it in a fraction of a second. Its folder is
$MINILM_CACHE_DIR, else $XDG_CACHE_HOME/minilm, else ~/.cache/minilm; MINILM_CACHE_DIR=off turns it off.
An entry is written for each model, precision, engine version and minilm version, and is never removed by
itself: `minilm cache prune` removes those unused for --older-than days (default 30), `minilm cache clear`
all of them. A removed entry is rebuilt when a model needs it again (seconds). Only the cache's own files
are touched; a process that has a model loaded keeps running."""


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def summary() -> str:
    """One line for ``minilm info``: the folder, its entries and their size, or that the cache is off."""
    from ..runtime import cache_entries, model_cache
    folder = model_cache.cache_dir()
    if folder is None:
        return "off (MINILM_CACHE_DIR=off)"
    found = cache_entries.entries(folder)
    return f"{folder} ({len(found)} entries, {_size(cache_entries.total(found))}; see minilm cache)"


def _off() -> bool:
    from ..runtime import model_cache
    if model_cache.cache_dir() is None:
        print("the model cache is off (MINILM_CACHE_DIR=off): nothing is cached")
        return True
    return False


def cmd_info(args, parser) -> int:
    from ..runtime import cache_entries, model_cache
    folder = model_cache.cache_dir()
    found = cache_entries.entries() if folder is not None else []
    kinds: dict[str, dict] = {}
    for entry in found:
        kind = kinds.setdefault(entry.kind, {"entries": 0, "bytes": 0})
        kind["entries"] += 1
        kind["bytes"] += entry.size
    info = {"folder": None if folder is None else str(folder), "entries": len(found), "bytes": cache_entries.total(found),
            "kinds": kinds, "oldest_use": found[0].last_used if found else None,
            "newest_use": found[-1].last_used if found else None}
    if getattr(args, "json", False):
        print(json.dumps(info, indent=2))
        return 0
    if _off():
        return 0
    print(f"folder:     {folder}{'' if (folder / 'models').is_dir() else ' (not created yet)'}")
    print(f"entries:    {len(found)}, {_size(info['bytes'])}")
    for name, kind in sorted(kinds.items()):
        print(f"  {name + ':':<16}{kind['entries']:>5}  {_size(kind['bytes'])}")
    if found:
        print(f"last used:  {_when(found[0].last_used)} (oldest) .. {_when(found[-1].last_used)} (newest)")
    return 0


def _report(removed, kept, dry_run: bool, what: str) -> None:
    from ..runtime.cache_entries import total
    verb = "would remove" if dry_run else "removed"
    print(f"{verb} {len(removed)} {'entry' if len(removed) == 1 else 'entries'} ({_size(total(removed))}){what}; "
          f"kept {len(kept)} ({_size(total(kept))})")


def cmd_prune(args, parser) -> int:
    from ..runtime import cache_entries
    if _off():
        return 0
    removed, kept = cache_entries.prune(args.older_than * 86400.0, dry_run=args.dry_run)
    _report(removed, kept, args.dry_run, f" unused for {args.older_than:g} days or more")
    return 0


def cmd_clear(args, parser) -> int:
    from ..runtime import cache_entries
    if _off():
        return 0
    removed, kept = cache_entries.prune(0.0, dry_run=args.dry_run)
    _report(removed, kept, args.dry_run, "")
    return 0


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of days >= 0, got {text!r}")
    return value


def register(command, common, inputs) -> None:
    """Add ``cache`` (info, prune, clear); ``command`` is main.build_parser's helper."""
    cache = command("cache", "show, prune or clear the model cache (optimised models, compiled images)", [], cmd_info, HELP)
    sub = cache.add_subparsers(dest="cache_command", metavar="SUBCOMMAND")
    info = sub.add_parser("info", help="the folder, its entries by kind, their size and last use (the default)",
                          description=HELP, formatter_class=RAW)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=cmd_info, parser=info)
    prune = sub.add_parser("prune", help="remove the entries unused for --older-than days", description=HELP, formatter_class=RAW)
    prune.add_argument("--older-than", type=_days, default=30.0, metavar="DAYS", help="days unused (default: 30)")
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    prune.set_defaults(run=cmd_prune, parser=prune)
    clear = sub.add_parser("clear", help="remove every entry", description=HELP, formatter_class=RAW)
    clear.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    clear.set_defaults(run=cmd_clear, parser=clear)
