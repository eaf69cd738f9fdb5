"""ExportedTranslator: an exported folder (`seq2seq export`) behind the methods the server calls
on a `Translator` (settings, screen, check_min_len, translate_sources, translate_hypotheses,
alignment), searched by the PyTorch-free runtime (runtime/, seq2seq_runtime).

The server keeps speaking `DecodeConfig`; a request for what the runtime does not do (sampling,
a shortlist, bfloat16) is one sentence, as any other bad setting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from seq2seq.config import DEFAULT_MAX_SRC_LEN, DecodeConfig
from seq2seq.decode.translator import Alignment, SourceLine, Translation
from seq2seq.errors import CheckpointError, ConfigError, DataError


class ExportedTranslator:
    """The runtime's Translator with the server's view of a translator."""

    def __init__(
        self, folder: str | Path, max_src_len: int = DEFAULT_MAX_SRC_LEN, threads: int | None = None
    ) -> None:
        from seq2seq_runtime import ModelDirError, SearchSettings, Translator

        try:
            self.runtime = Translator.from_dir(folder, threads=threads, max_src_len=max_src_len)
        except ModelDirError as err:
            raise CheckpointError(f"--model {folder}: {err}") from None
        manifest = self.runtime.manifest
        self.config = DecodeConfig.model_validate(manifest.get("decode", {}))
        self.names = [str(Path(folder) / name) for name in manifest.get("checkpoints", [])]
        self.src_lang, self.tgt_lang = self.runtime.src_lang, self.runtime.tgt_lang
        self.max_src_len = max_src_len
        self.keys = sorted(SearchSettings.known())  # the DecodeConfig keys the runtime reads

    @property
    def has_attention(self) -> bool:
        return bool(self.runtime.has_attention)

    @property
    def task_name(self) -> str:
        return str(self.runtime.task)

    def settings(self, base: DecodeConfig | None = None, **overrides: Any) -> DecodeConfig:
        """The export's decode defaults (or `base`) with the given keys replaced, validated; a
        setting the runtime does not do (sampling, a shortlist) is refused in one sentence."""
        given = {k: v for k, v in overrides.items() if v is not None}
        defaults = DecodeConfig().model_dump()
        for key, value in given.items():
            if key not in self.keys and key != "precision" and value != defaults.get(key):
                raise ConfigError(
                    f"decode.{key} is not done by the runtime of an exported model; serve the "
                    "checkpoint (--checkpoint) for it"
                )
        merged = {**(base or self.config).model_dump(), **given}
        if "beam_size" not in given and merged["n_best"] > merged["beam_size"]:
            merged["beam_size"] = merged["n_best"]
        try:
            return DecodeConfig.model_validate(merged)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise ConfigError(f"decode setting '{key or 'decode'}': {message}") from None

    def screen(self, lines: Sequence[str], first_line: int = 1) -> list[SourceLine]:
        return [
            SourceLine(s.number, s.text, s.ids, s.skipped)
            for s in self.runtime.screen(lines, first_line)
        ]

    def check_min_len(self, sources: Sequence[SourceLine], settings: DecodeConfig) -> None:
        from seq2seq_runtime import SettingsError

        try:
            self.runtime.check_min_len(self._sources(sources), self._runtime(settings))
        except SettingsError as err:
            raise ConfigError(f"decode.{err}") from None

    def translate_sources(
        self,
        sources: Sequence[SourceLine],
        settings: DecodeConfig | None = None,
        features: bool = False,
        progress: Callable[[int], Any] | None = None,
        attention: bool = False,
    ) -> list[list[Translation]]:
        from seq2seq_runtime import InputError, SettingsError

        runtime_settings = self._runtime(settings or self.config)
        try:
            results = self.runtime.translate_sources(
                self._sources(sources), runtime_settings, progress, attention
            )
        except SettingsError as err:
            raise ConfigError(str(err)) from None
        except InputError as err:
            raise DataError(str(err)) from None
        return [[_translation(t) for t in hyps] for hyps in results]

    def translate_hypotheses(
        self, lines: Sequence[str], settings: DecodeConfig | None = None, **kwargs: Any
    ) -> list[list[Translation]]:
        return self.translate_sources(self.screen(lines), settings, **kwargs)

    def alignment(self, text: str, translation: Translation) -> Alignment | None:
        found = self.runtime.alignment(text, translation)
        if found is None:
            return None
        return Alignment(found.source_tokens, found.target_tokens, found.weights)

    def _runtime(self, settings: DecodeConfig) -> Any:
        values = settings.model_dump()
        return self.runtime.settings(**{k: values[k] for k in self.keys})

    def _sources(self, sources: Sequence[SourceLine]) -> list[Any]:
        from seq2seq_runtime import SourceLine as RuntimeLine

        return [RuntimeLine(s.number, s.text, s.ids, s.skipped) for s in sources]


def _translation(t: Any) -> Translation:
    weights = None if t.attention is None else torch.from_numpy(t.attention.copy())
    return Translation(t.text, t.tokens, t.log_prob, t.score, dict(t.features), weights)
