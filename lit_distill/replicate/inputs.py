"""Input checks and the by-article split of ``python -m lit_distill replicate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lit_distill.user_errors import UserInputError

__all__ = [
    "InputError",
    "check_encoder",
    "check_squad_file",
    "split_articles",
    "split_by_article",
    "squad_version",
]


class InputError(UserInputError):
    """Bad user input to ``replicate``: the message names the option, the value and what is wrong."""


def _load(path: Path, option: str) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{option} {path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{option} {path}: not a JSON file ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise InputError(f"{option} {path}: not a SQuAD file (no top-level 'data' list of articles)")
    return data


def check_squad_file(path: Path, option: str) -> dict[str, Any]:
    """Load a SQuAD-format file, or raise :class:`InputError` naming ``option`` and the problem."""
    data = _load(path, option)
    questions = sum(
        len(p.get("qas", []))
        for a in data["data"]
        if isinstance(a, dict)
        for p in a.get("paragraphs", [])
        if isinstance(p, dict)
    )
    if questions == 0:
        raise InputError(f"{option} {path}: no questions in it")
    return data


def squad_version(*files: dict[str, Any]) -> str:
    """``"2.0"`` if any file says so or has an unanswerable question, else ``"1.1"``."""
    for data in files:
        if str(data.get("version", "")).lstrip("v").startswith("2"):
            return "2.0"
        for article in data["data"]:
            for paragraph in article.get("paragraphs", []):
                if any(q.get("is_impossible") for q in paragraph.get("qas", [])):
                    return "2.0"
    return "1.1"


def check_encoder(directory: Path) -> int:
    """Number of layers of a pretrained encoder directory (Hugging Face BERT or QAModel.save).

    Raises:
        InputError: the directory, or its config or tokenizer files, are missing.
    """
    if not directory.is_dir():
        raise InputError(f"--encoder {directory}: no such directory")
    for name in ("config.json", "lit_distill_config.json"):
        if (directory / name).is_file():
            config = json.loads((directory / name).read_text(encoding="utf-8"))
            break
    else:
        raise InputError(
            f"--encoder {directory}: no config.json (Hugging Face) or lit_distill_config.json in it; "
            "expected a pretrained BERT-family model directory"
        )
    if not any((directory / n).is_file() for n in ("tokenizer.json", "vocab.txt")):
        raise InputError(f"--encoder {directory}: no tokenizer (tokenizer.json or vocab.txt) in it")
    if not any((directory / n).is_file() for n in ("model.safetensors", "pytorch_model.bin")):
        raise InputError(f"--encoder {directory}: no weights (model.safetensors or pytorch_model.bin) in it")
    layers = config.get("num_hidden_layers", config.get("n_layers"))
    if not isinstance(layers, int) or layers < 2:
        raise InputError(
            f"--encoder {directory}: num_hidden_layers is {layers!r}; a student needs a teacher of >= 2 layers"
        )
    return layers


def split_by_article(source: Path, heldout: list[str], out_dir: Path) -> tuple[Path, Path]:
    """Write ``train.json`` and ``heldout.json`` (the ``heldout`` articles) of ``source``; see :func:`split_articles`."""
    train, held, _ = split_articles(source, heldout, out_dir)
    return train, held


def split_articles(
    source: Path, heldout: list[str], out_dir: Path, search: list[str] | None = None
) -> tuple[Path, Path, Path | None]:
    """Write ``train.json``, ``heldout.json`` (``heldout`` articles) and ``search.json`` (``search`` ones) of ``source``.

    Training gets every article in neither list. A file already in ``out_dir`` with other
    content (the run directory was made with another split) is an error, not overwritten:
    its finished stages were trained on it.

    Raises:
        InputError: ``source`` is not a SQuAD file, an article is not in it or in both lists,
            nothing is left to train on, or ``out_dir`` holds another split.
    """
    data = check_squad_file(source, "--split-from")
    titles = [a.get("title") for a in data["data"]]
    search = search or []
    for option, chosen in (("--heldout-articles", heldout), ("--search-articles", search)):
        missing = [t for t in chosen if t not in titles]
        if missing:
            raise InputError(
                f"{option}: {', '.join(missing)} not in {source}; its articles: "
                + ", ".join(str(t) for t in titles)
            )
    both = sorted(set(heldout) & set(search))
    if both:
        raise InputError(
            f"--search-articles: {', '.join(both)} also held out; the search split must be disjoint"
        )
    if len(set(heldout) | set(search)) == len(titles):
        raise InputError(f"--heldout-articles holds out every article of {source}: nothing left to train on")
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = {"train.json": None, "heldout.json": set(heldout)}
    if search:
        parts["search.json"] = set(search)
    taken = set(heldout) | set(search)
    for name, keep in parts.items():
        part = {k: v for k, v in data.items() if k != "data"}
        part["data"] = [
            a for a in data["data"] if (a.get("title") in keep if keep else a.get("title") not in taken)
        ]
        text = json.dumps(part)
        path = out_dir / name
        if path.is_file() and path.read_text(encoding="utf-8") != text:
            raise InputError(
                f"--output: {out_dir.parent} was made with another split ({path} differs): its finished stages "
                "trained on that one; give the same articles, or another --output"
            )
        tmp = path.with_name(f".{path.name}.tmp")  # replaced whole or not at all
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return out_dir / "train.json", out_dir / "heldout.json", (out_dir / "search.json") if search else None
