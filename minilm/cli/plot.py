"""``minilm similarity --plot FILE.png``: the cosine similarity heatmap as an image (matplotlib).

The same picture as the playground page: matplotlib's diverging ``RdBu_r`` from -1 to 1, row
labels "i. text", column labels i, the value in each cell, a colour bar. matplotlib is optional
(``pip install 'minilm[plot]'``) and imported only here.
"""

from __future__ import annotations

import os

import numpy as np

from ..atomic import atomic_path, output_file
from ..errors import MissingDependencyError


def _label(text: str, width: int = 40) -> str:
    text = " ".join(text.split()) or '""'
    return text if len(text) <= width else text[: width - 1] + "…"


def plot_heatmap(texts: list[str], matrix: np.ndarray, path: str | os.PathLike) -> None:
    output_file(path)  # a folder or a device refused before matplotlib is imported
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only, no display needed
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("minilm similarity --plot needs matplotlib: pip install 'minilm[plot]'") from exc
    n = len(texts)
    fig, ax = plt.subplots(figsize=(4 + 0.9 * n, 1.5 + 0.7 * n), dpi=120)
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(n), [str(i + 1) for i in range(n)])
    ax.set_yticks(range(n), [f"{i + 1}. {_label(t)}" for i, t in enumerate(texts)])
    ax.xaxis.tick_top()
    if n <= 30:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{matrix[i, j]:.3f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(matrix[i, j]) > 0.6 else "black")
    fig.colorbar(image, ax=ax, label="cosine similarity", shrink=0.8)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:  # the temporary keeps the suffix: matplotlib picks the format by it
            fig.savefig(tmp, bbox_inches="tight")
    finally:
        plt.close(fig)
