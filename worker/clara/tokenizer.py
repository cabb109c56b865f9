"""The base model's tokenizer plus CLaRa's added tokens, and the strings CLaRa reads.

CLaRa was trained (and Apple's reference runs) on *rendered strings* — ``"<ENC><s>" + document + "</s>"``
for the compressor and query reasoner, the Mistral v0.2 chat prompt for the generator — tokenised by the
base model's ``tokenizer.json`` (a Hugging Face fast tokenizer) with CLaRa's tokens added as special
tokens. We render the same strings and encode them with the ``tokenizers`` library on that same file, so
the ids are the reference's whatever the file's normalizer is (legacy: a ``▁`` before every text segment,
also after special tokens; non-legacy ``Metaspace``: only at the very start). Without a ``tokenizer.json``
we fall back to sentencepiece on ``tokenizer.model``, segment by segment, which matches a legacy file only.

Special tokens only ever come from our templates: text from users and documents is cleaned of every
literal special-token string first (``neutralise``, plus the file's own added tokens), and each encoded
template is checked to hold exactly the special ids the template put there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import sentencepiece as spm
from tokenizers import AddedToken, Tokenizer

from worker.clara.errors import CheckpointError

log = logging.getLogger(__name__)

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
BOS_ID = 1  # <s>, also the padding token (left padding)
EOS_ID = 2  # </s>
PAD_ID = BOS_ID

SYSTEM_PROMPT = ("You are a helpful assistant. Your task is to extract relevant information from provided "
                 "documents and to answer to questions as briefly as possible.")

# Literal strings of special tokens, tolerant of case and of some inner whitespace ("[ /inst ]", "< s >").
# Every one ends with ">" or "]", holds no "<" or "[" after its first character, and is at most
# _LONGEST characters long: what lets ``neutralise`` run in linear time.
_WS = r"\s{0,16}"
_SPECIAL_TEXT = re.compile(
    rf"<{_WS}(?:/{_WS})?s{_WS}>|<{_WS}unk{_WS}>|\[{_WS}(?:/{_WS})?INST{_WS}\]|<{_WS}MEM{_WS}\d{{0,6}}{_WS}>"
    rf"|<{_WS}(?:ENC|SEP|AE){_WS}>",
    re.IGNORECASE,
)
_LONGEST = 64

# Bump when ``encoder_text`` or its tokenisation changes what the compressor reads: part of the store key.
# 2: rendered strings through the base model's tokenizer.json (issue 14); 1: sentencepiece per segment.
ENCODER_TEMPLATE_VERSION = 2


def neutralise(text: str) -> str:
    """Remove every literal special-token string of the Mistral v0.2 + CLaRa vocabulary, also those that a
    removal brings together ("[IN[INST]ST]", "<<s>/s>"). Linear in the text: each string is removed as
    soon as its last character arrives, so the text kept so far never holds one."""
    if not _SPECIAL_TEXT.search(text):
        return text
    kept: list[str] = []
    for char in text:
        kept.append(char)
        if char in ">]":
            tail = "".join(kept[-_LONGEST:])
            start = max(tail.rfind("<"), tail.rfind("["))  # a match begins at the last opening bracket
            if start >= 0 and _SPECIAL_TEXT.fullmatch(tail, start):
                del kept[len(kept) - (len(tail) - start):]
    return "".join(kept)


def added_tokens(n_mem: int) -> list[str]:
    """CLaRa's tokens, in the order they follow the base vocabulary."""
    return [*(f"<MEM{i}>" for i in range(n_mem)), "<AE>", "<ENC>", "<SEP>"]


# ---- the strings (what Apple's modeling_clara.py renders) ------------------------------------------
def encoder_text(text: str) -> str:
    """The compressor's and query reasoner's input before the memory tokens."""
    return f"<ENC>{BOS}{text}{EOS}"


def prompt_text(question: str, k: int, n_mem: int) -> str:
    """The generator's prompt with k documents: the Mistral-7B-Instruct-v0.2 chat template (system message
    folded into the first user turn) over CLaRa's user message. The reference also replaces ``:\\ `` by
    ``: `` in the user message, question included; so do we."""
    slots = ("".join(f"<MEM{i}>" for i in range(n_mem)) + "<SEP>") * k
    user = f"Background:\n{slots}\n\nQuestion:{question}".replace(":\\ ", ": ")
    return f"{BOS} [INST] {SYSTEM_PROMPT}\n\n{user} [/INST]"


# ---- the two ways of encoding a rendered string -------------------------------------------------------
class _Encoder(Protocol):
    base_vocab: int

    def encode(self, rendered: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def token_id(self, token: str) -> int | None: ...


class _FastTokenizer:
    """``tokenizer.json`` through the ``tokenizers`` library, CLaRa's tokens added as special tokens."""

    def __init__(self, path: Path, extra: Sequence[str]) -> None:
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception:  # the Rust side raises plain Exceptions for malformed files
            raise CheckpointError("the base model's tokenizer.json could not be read") from None
        self.base_vocab = self.tokenizer.get_vocab_size(with_added_tokens=False)
        own = {t.content for t in self.tokenizer.get_added_tokens_decoder().values()}
        others = sorted(own - {UNK, BOS, EOS} - set(extra))
        if others:  # text could produce them: neutralise knows only Mistral v0.2's and CLaRa's tokens
            raise CheckpointError(f"the base model's tokenizer.json has added tokens beyond <unk>, <s>, </s> "
                                  f"({', '.join(others[:5])}): it is not Mistral-7B-Instruct-v0.2's tokenizer")
        self.tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in extra])

    def encode(self, rendered: str) -> list[int]:
        ids: list[int] = self.tokenizer.encode(rendered, add_special_tokens=False).ids
        return ids

    def decode(self, ids: list[int]) -> str:
        text: str = self.tokenizer.decode(ids, skip_special_tokens=True)
        return text

    def token_id(self, token: str) -> int | None:
        found: int | None = self.tokenizer.token_to_id(token)
        return found


class _SentencePiece:
    """``tokenizer.model``: text between special-token strings encoded one segment at a time (each gets
    sentencepiece's leading ``▁``: what a legacy ``tokenizer.json`` does)."""

    def __init__(self, path: Path, extra: Sequence[str]) -> None:
        try:
            self.sp = spm.SentencePieceProcessor(model_file=str(path))
        except (OSError, RuntimeError):
            raise CheckpointError("the base model's tokenizer.model could not be read") from None
        self.base_vocab = self.sp.get_piece_size()
        self.ids = {UNK: self.sp.unk_id(), BOS: self.sp.bos_id(), EOS: self.sp.eos_id()}
        self.ids.update((token, self.base_vocab + i) for i, token in enumerate(extra))
        by_length = sorted(self.ids, key=len, reverse=True)  # <MEM10> before <MEM1>
        self.split = re.compile("(" + "|".join(re.escape(t) for t in by_length) + ")")

    def encode(self, rendered: str) -> list[int]:
        ids: list[int] = []
        for i, part in enumerate(self.split.split(rendered)):
            if i % 2:
                ids.append(self.ids[part])
            elif part:
                ids.extend(self.sp.encode(part))
        return ids

    def decode(self, ids: list[int]) -> str:
        text: str = self.sp.decode([i for i in ids if EOS_ID < i < self.base_vocab])
        return text

    def token_id(self, token: str) -> int | None:
        return self.ids.get(token)


class ClaraTokenizer:
    """Mistral-7B-Instruct-v0.2's tokenizer + ``<MEM0>``..``<MEM{n-1}>``, ``<AE>``, ``<ENC>``, ``<SEP>``
    appended in that order (ids from 32000). ``from_folder`` picks the base folder's file."""

    def __init__(self, encoder: _Encoder, n_mem: int, source: Path) -> None:
        self._encoder = encoder
        self.source = source  # the file the ids come from (part of the store key)
        self.n_mem = n_mem
        self.base_vocab = encoder.base_vocab  # 32000
        if (encoder.token_id(BOS), encoder.token_id(EOS)) != (BOS_ID, EOS_ID):
            raise CheckpointError(f"the base model's {source.name} is not the Mistral tokenizer")
        self.mem_ids = list(range(self.base_vocab, self.base_vocab + n_mem))
        self.ae_id = self.base_vocab + n_mem
        self.enc_id = self.ae_id + 1
        self.sep_id = self.ae_id + 2
        self.vocab_size = self.sep_id + 1  # 32019 for n_mem=16, 32005 for n_mem=2
        wanted = dict(zip(added_tokens(n_mem), [*self.mem_ids, self.ae_id, self.enc_id, self.sep_id], strict=True))
        if any(encoder.token_id(token) != i for token, i in wanted.items()):
            raise CheckpointError(f"the base model's {source.name} already has tokens beyond its vocabulary: "
                                  "CLaRa's memory tokens would not get the ids the checkpoint was trained with")
        self._check_templates()

    @classmethod
    def from_folder(cls, base_dir: Path, n_mem: int) -> ClaraTokenizer:
        """``tokenizer.json`` (what CLaRa was trained on); ``tokenizer.model`` only when it is absent."""
        json_file, model_file = base_dir / "tokenizer.json", base_dir / "tokenizer.model"
        if json_file.is_file():
            return cls.from_tokenizer_json(json_file, n_mem)
        if model_file.is_file():
            log.warning("the base model folder has no tokenizer.json: tokenising with sentencepiece on "
                        "tokenizer.model, which gives the ids of a *legacy* tokenizer.json only. CLaRa was "
                        "trained on the base model's tokenizer.json: if the original is non-legacy, every "
                        "document's and question's ids differ from training and answers drift. Copy the "
                        "base model's tokenizer.json into the folder.")
            return cls.from_sentencepiece(model_file, n_mem)
        raise CheckpointError("the base model folder has neither tokenizer.json nor tokenizer.model")

    @classmethod
    def from_tokenizer_json(cls, path: Path, n_mem: int) -> ClaraTokenizer:
        return cls(_FastTokenizer(path, added_tokens(n_mem)), n_mem, path)

    @classmethod
    def from_sentencepiece(cls, path: Path, n_mem: int) -> ClaraTokenizer:
        return cls(_SentencePiece(path, added_tokens(n_mem)), n_mem, path)

    # ---- text -> ids -----------------------------------------------------------------------------
    def _encode(self, rendered: str, specials: list[int]) -> list[int]:
        """Encode a rendered template; its special ids must be exactly ``specials`` (in order)."""
        ids = self._encoder.encode(rendered)
        if [i for i in ids if self.is_special(i)] != specials:
            raise ValueError("a CLaRa template did not tokenise to its own special tokens")
        return ids

    def encoder_ids(self, text: str, doc_max_length: int) -> list[int]:
        """``<ENC><s>`` text ``</s>``, cut on the right to doc_max_length + 3 tokens, then the memory
        tokens (the reference's ``_prepare_encoder_inputs``)."""
        ids = self._encode(encoder_text(neutralise(text)), [self.enc_id, BOS_ID, EOS_ID])
        return ids[: doc_max_length + 3] + self.mem_ids

    def encode_text(self, text: str) -> list[int]:
        """The ids ``text`` takes inside the encoder input (never a control or added id)."""
        return self._encode(encoder_text(neutralise(text)), [self.enc_id, BOS_ID, EOS_ID])[2:-1]

    def count_tokens(self, text: str) -> int:
        return len(self.encode_text(text))

    def is_special(self, token_id: int) -> bool:
        return token_id <= EOS_ID or token_id >= self.base_vocab

    def prompt_ids(self, question: str, k: int) -> list[int]:
        """The generator's prompt with k >= 1 groups of memory slots (``<MEM0>..<MEMn-1><SEP>`` each).
        The question is kept as given (not stripped), like the reference."""
        if k < 1:
            raise ValueError("a CLaRa prompt holds at least one document")
        specials = [BOS_ID, *([*self.mem_ids, self.sep_id] * k)]
        return self._encode(prompt_text(neutralise(question), k, self.n_mem), specials)

    def prompt_length(self, question: str, k: int) -> int:
        return len(self.prompt_ids(question, k))

    def _check_templates(self) -> None:
        """At load: the templates tokenise to their own special tokens with this file."""
        try:
            self.encoder_ids("check", 8)
            self.prompt_ids("check?", 2)
        except ValueError:
            raise CheckpointError(f"the base model's {self.source.name} does not tokenise CLaRa's templates "
                                  "as Mistral-7B-Instruct-v0.2's tokenizer does") from None

    # ---- ids -> text -----------------------------------------------------------------------------
    def decode(self, ids: list[int]) -> str:
        """Generated ids -> text, special tokens skipped."""
        return self._encoder.decode([i for i in ids if not self.is_special(i)])
