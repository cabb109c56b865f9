"""The base model's sentencepiece tokenizer plus CLaRa's added tokens, and our prompt templates.

Special tokens (``<s>``, ``</s>``, ``<MEMi>``, ``<AE>``, ``<ENC>``, ``<SEP>``, and the ``[INST]`` /
``[/INST]`` markers of the chat format) only ever come from our own templates: text from users and
documents is cleaned of their literal strings first, then tokenised by sentencepiece, which never
produces a control or added id from text.
"""

from __future__ import annotations

import re
from pathlib import Path

import sentencepiece as spm

from worker.clara.errors import CheckpointError

BOS_ID = 1  # <s>, also the padding token (left padding)
EOS_ID = 2  # </s>
PAD_ID = BOS_ID

SYSTEM_PROMPT = ("You are a helpful assistant. Your task is to extract relevant information from provided "
                 "documents and to answer to questions as briefly as possible.")

# Literal strings of special tokens, tolerant of case and inner spaces ("[ /inst ]", "< s >").
_SPECIAL_TEXT = re.compile(
    r"<\s*/?\s*s\s*>|<\s*unk\s*>|\[\s*/?\s*INST\s*\]|<\s*MEM\s*\d*\s*>|<\s*(?:ENC|SEP|AE)\s*>",
    re.IGNORECASE,
)


def neutralise(text: str) -> str:
    """Remove every literal special-token string, until none is left ("[IN[INST]ST]" included)."""
    while True:
        cleaned = _SPECIAL_TEXT.sub("", text)
        if cleaned == text:
            return cleaned
        text = cleaned


ENCODER_TEMPLATE_VERSION = 1  # part of the store key: bump it when ``encoder_ids`` changes what it makes


class ClaraTokenizer:
    """``tokenizer.model`` of Mistral-7B-Instruct-v0.2 + ``<MEM0>``..``<MEM{n-1}>``, ``<AE>``, ``<ENC>``,
    ``<SEP>`` appended in that order (ids from 32000)."""

    def __init__(self, model_file: Path, n_mem: int) -> None:
        try:
            self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        except (OSError, RuntimeError):
            raise CheckpointError("the base model's tokenizer.model could not be read") from None
        self.n_mem = n_mem
        self.base_vocab = self.sp.get_piece_size()  # 32000
        if (self.sp.bos_id(), self.sp.eos_id()) != (BOS_ID, EOS_ID):
            raise CheckpointError("the base model's tokenizer.model is not the Mistral tokenizer")
        self.mem_ids = list(range(self.base_vocab, self.base_vocab + n_mem))
        self.ae_id = self.base_vocab + n_mem
        self.enc_id = self.ae_id + 1
        self.sep_id = self.ae_id + 2
        self.vocab_size = self.sep_id + 1  # 32019 for n_mem=16, 32005 for n_mem=2
        self.added_tokens = [*(f"<MEM{i}>" for i in range(n_mem)), "<AE>", "<ENC>", "<SEP>"]

    # ---- text -> ids -----------------------------------------------------------------------------
    def encode_text(self, text: str) -> list[int]:
        """User or document text -> ids; never a control (<unk>, <s>, </s>) or added id."""
        return self._clean_ids(self.sp.encode(neutralise(text)))

    def _clean_ids(self, ids: list[int]) -> list[int]:
        return [i for i in ids if EOS_ID < i < self.base_vocab]

    def count_tokens(self, text: str) -> int:
        return len(self.encode_text(text))

    def is_special(self, token_id: int) -> bool:
        return token_id <= EOS_ID or token_id >= self.base_vocab

    # ---- our templates ---------------------------------------------------------------------------
    def encoder_ids(self, text: str, doc_max_length: int) -> list[int]:
        """``<ENC><s>`` text ``</s>``, cut on the right to doc_max_length + 3, then the memory tokens."""
        ids = [self.enc_id, BOS_ID, *self.encode_text(text), EOS_ID][: doc_max_length + 3]
        return ids + self.mem_ids

    def prompt_parts(self, question: str) -> tuple[list[int], list[int]]:
        """The generation prompt around the memory slots: (before, after) as ids.

        ``<s>[INST] {system}\\n\\nBackground:\\n`` + k x (``<MEM0>..<MEMn-1><SEP>``) +
        ``\\n\\nQuestion:{question} [/INST]``. The [INST] markers are text in the v0.2 vocabulary;
        they are safe because ``encode_text`` removes them from the question."""
        before = [BOS_ID, *self.sp.encode(f"[INST] {SYSTEM_PROMPT}\n\nBackground:\n")]
        after = self._clean_ids(self.sp.encode(f"\n\nQuestion:{neutralise(question).strip()} [/INST]"))
        return before, after

    def prompt_ids(self, question: str, k: int) -> list[int]:
        before, after = self.prompt_parts(question)
        return [*before, *([*self.mem_ids, self.sep_id] * k), *after]

    def prompt_length(self, question: str, k: int) -> int:
        before, after = self.prompt_parts(question)
        return len(before) + k * (self.n_mem + 1) + len(after)

    # ---- ids -> text -----------------------------------------------------------------------------
    def decode(self, ids: list[int]) -> str:
        """Generated ids -> text, special tokens skipped."""
        text: str = self.sp.decode([i for i in ids if not self.is_special(i)])
        return text
