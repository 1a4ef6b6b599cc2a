"""An offline, deterministic WordPiece tokenizer trained on given texts (the synthetic data's tokenizer)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lit_distill.user_errors import UserInputError

__all__ = ["train_wordpiece_tokenizer"]


_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _wordpiece_vocab(texts: Iterable[str], vocab_size: int) -> list[str]:
    """Choose a WordPiece vocabulary by deterministic frequency counts.

    Words come from the ``tokenizers`` BERT normaliser and pre-tokeniser (the
    same ones the final tokenizer uses). The vocabulary holds every character
    seen (word-initial and ``##`` form, so nothing maps to ``[UNK]``), then
    the frequent whole words (seen at least 8 times), then the most frequent word pieces (prefixes of 2-5 characters and
    ``##`` continuations of 2-4 characters), ties broken alphabetically. The
    ``tokenizers`` trainer is not used for the choice because it breaks ties in
    hash order, which differs between processes.
    """
    from collections import Counter

    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    normalizer = BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    pre_tokenizer = BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for w in words for c in w})
    alphabet = [*chars, *(f"##{c}" for c in chars)]
    frequent = sorted(
        (w for w, c in words.items() if c >= 8 and w not in alphabet), key=lambda w: (-words[w], w)
    )
    pieces: Counter[str] = Counter()
    for word, count in words.items():
        for n in range(2, min(5, len(word) - 1) + 1):
            pieces[word[:n]] += count * n
        for i in range(1, len(word)):
            for n in range(2, min(4, len(word) - i) + 1):
                pieces[f"##{word[i : i + n]}"] += count * n
    taken = set(alphabet) | set(frequent)
    ranked = [*frequent, *sorted((p for p in pieces if p not in taken), key=lambda p: (-pieces[p], p))]
    budget = max(0, vocab_size - len(_SPECIALS) - len(alphabet))
    return [*_SPECIALS, *alphabet, *sorted(ranked[:budget])]


def train_wordpiece_tokenizer(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 1500) -> Path:
    """Build an uncased BERT WordPiece tokenizer on ``texts`` and save it as a HF fast-tokenizer directory.

    The directory loads with ``transformers.AutoTokenizer.from_pretrained(out_dir)``
    (a ``tokenizers``-backed fast tokenizer with offsets) and also holds a
    classic ``vocab.txt``. The same texts always give the same vocabulary and ids.

    Args:
        texts: Training text.
        out_dir: Directory to write (created).
        vocab_size: Target vocabulary size (special tokens and the alphabet included).

    Returns:
        ``out_dir`` as a ``Path``.

    Raises:
        UserInputError: If ``vocab_size`` < 100.
    """
    from transformers import BertTokenizerFast  # type: ignore[attr-defined]

    if vocab_size < 100:
        raise UserInputError(f"vocab_size must be >= 100, got {vocab_size}")
    ordered = _wordpiece_vocab(texts, vocab_size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = {token: i for i, token in enumerate(ordered)}
    tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=512)
    tokenizer.save_pretrained(str(out))
    (out / "vocab.txt").write_text("\n".join(ordered) + "\n", encoding="utf-8")
    return out
