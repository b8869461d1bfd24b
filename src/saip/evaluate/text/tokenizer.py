"""A caption tokenizer trained on the training captions with the ``tokenizers`` library.

IRRA (Jiang & Ye, CVPR 2023) uses CLIP's byte-pair encoding; without downloads we train a BPE
vocabulary of the same kind (Sennrich et al., ACL 2016) on the training split's captions only:
lower-cased, accents stripped, split on whitespace and punctuation. Every encoded caption starts
with ``[CLS]`` (the token the text encoder pools) and ends with ``[SEP]``; captions are truncated
to ``max_length`` tokens (IRRA: 77) and right-padded with ``[PAD]`` (id 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP)
MAX_LENGTH = 77


def train_caption_tokenizer(captions: Iterable[str], vocab_size: int = 5000) -> Tokenizer:
    """BPE tokenizer learned from ``captions`` (special tokens get ids 0-3, ``[PAD]`` = 0)."""
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=list(SPECIAL_TOKENS), show_progress=False
    )
    tokenizer.train_from_iterator(list(captions), trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        special_tokens=[(CLS, tokenizer.token_to_id(CLS)), (SEP, tokenizer.token_to_id(SEP))],
    )
    return tokenizer


def load_caption_tokenizer(path: Path) -> Tokenizer:
    """A tokenizer saved by :func:`save_caption_tokenizer` (``tokenizer.json``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file not found: {path}")
    return Tokenizer.from_file(str(path))


def save_caption_tokenizer(tokenizer: Tokenizer, path: Path) -> None:
    """Write ``tokenizer`` as a ``tokenizers`` JSON file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))


def encode_captions(
    tokenizer: Tokenizer, captions: Sequence[str], max_length: int = MAX_LENGTH
) -> torch.Tensor:
    """Token ids ``(N, max_length)`` (int64), ``[CLS] ... [SEP]`` then ``[PAD]`` = 0; long captions are
    truncated (their ``[SEP]`` kept as the last token)."""
    ids = torch.zeros(len(captions), max_length, dtype=torch.long)
    sep = tokenizer.token_to_id(SEP)
    for i, encoding in enumerate(tokenizer.encode_batch(list(captions))):
        tokens = encoding.ids
        if len(tokens) > max_length:
            tokens = tokens[: max_length - 1] + [sep]
        ids[i, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    return ids
