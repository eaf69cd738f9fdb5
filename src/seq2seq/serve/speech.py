"""SpeechTranslator: a speech checkpoint's Transcriber behind the methods the server calls on a
`Translator` (settings, screen, check_min_len, translate_sources, alignment), so that uploaded
recordings go through the server's one model thread and dynamic batching as sentences do.

A recording is read and featurised exactly as `seq2seq transcribe` reads a file: `read_audio`
(WAV, FLAC, OGG; any rate resampled, stereo mixed down) and the checkpoint's own feature
settings and normalisation statistics (`AudioSource.wave_features`), limited by the server's
`AudioConfig` (``--max-seconds``, ``--strict-rate``). Text is not a speech model's input: its
`screen` refuses lines with the sentence that points to ``POST /v1/transcribe``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from seq2seq.audio.io import AudioConfig, read_audio
from seq2seq.config import DecodeConfig
from seq2seq.decode.search import max_output_lengths
from seq2seq.decode.transcriber import Transcriber
from seq2seq.decode.translator import Alignment, SourceLine, Translation, Translator
from seq2seq.errors import AudioError, ConfigError, ServeError
from seq2seq.serve.payload import UploadedFile

HOW_TO_UPLOAD = "the recording in the form field 'file' (curl -F file=@speech.wav)"
TEXT_IS_NOT_ITS_INPUT = (
    "this server's model is a speech model (Audio \u2192 Transcript): its input is audio, not "
    "text; send " + HOW_TO_UPLOAD + " to POST /v1/transcribe as multipart/form-data"
)


@dataclass
class Utterance:
    """One uploaded recording as the model reads it: its normalised frames."""

    number: int  # 1-based, in the order the files were sent
    name: str  # the client's file name (for messages and the answer)
    frames: torch.Tensor  # (T, n_mels), normalised with the checkpoint's statistics
    seconds: float  # the recording's length


class SpeechTranslator:
    """A speech checkpoint (or ensemble) as the server sees a translator."""

    def __init__(self, transcriber: Transcriber, audio: AudioConfig | None = None) -> None:
        self.transcriber = transcriber
        self.audio = audio or AudioConfig()
        translator = transcriber.translator
        self.names = translator.names
        self.src_lang, self.tgt_lang = translator.src_lang, translator.tgt_lang

    @classmethod
    def of(cls, translator: Translator, audio: AudioConfig | None = None) -> SpeechTranslator:
        """The server's view of a loaded speech checkpoint (a ConfigError for a text one)."""
        audio = audio or AudioConfig()
        return cls(Transcriber(translator, audio.max_seconds), audio)

    @property
    def has_attention(self) -> bool:
        return self.transcriber.translator.has_attention

    def settings(self, base: DecodeConfig | None = None, **overrides: Any) -> DecodeConfig:
        return self.transcriber.settings(base, **overrides)

    # --- recordings -----------------------------------------------------------------------------

    def utterance(self, number: int, upload: UploadedFile) -> Utterance:
        """Read and featurise one uploaded file; bad audio is a ServeError (400), one sentence
        naming the file and, for a limit, the server's flag."""
        if not upload.data:
            raise ServeError(f"the uploaded file {upload.name} is empty (0 bytes)")
        source, audio = self.transcriber.source, self.audio
        rate = source.features.rate
        try:  # AudioSource.file_features, in its two steps: the wave's length is reported
            wave = read_audio(upload.data, rate, audio.strict_rate, audio.max_seconds, upload.name)
        except AudioError as err:
            raise ServeError(_as_flags(str(err))) from None
        frames = source.wave_features(wave)  # (T, n_mels)
        return Utterance(number, upload.name, frames, round(len(wave) / rate, 3))

    def warm_up(self, settings: DecodeConfig) -> None:
        """One search over a second of silence-level frames: settings the checkpoint cannot
        serve fail at start-up, and the first request does not pay for the bf16 copy."""
        frames = torch.zeros(101, self.transcriber.source.features.n_mels)  # (T, n_mels)
        self.transcriber.transcribe_features([frames], settings.model_copy(update={"min_len": 0}))

    # --- what the batcher calls -----------------------------------------------------------------

    def screen(self, lines: Sequence[str], first_line: int = 1) -> list[SourceLine]:
        raise ServeError(TEXT_IS_NOT_ITS_INPUT)

    def check_min_len(self, sources: Sequence[Any], settings: DecodeConfig) -> None:
        """Refuse a `min_len` above a recording's length cap (ratio x frames + offset)."""
        if settings.min_len == 0:
            return
        for source in sources:
            length = torch.tensor([len(source.frames)])
            cap = int(max_output_lengths(length, settings.max_len_ratio, settings.max_len_offset))
            if settings.min_len > cap:
                raise ConfigError(
                    f"decode.min_len={settings.min_len} is more than the {cap} output tokens the "
                    f"length cap allows recording {source.number} ({len(source.frames)} frames)"
                )

    def translate_sources(
        self,
        sources: Sequence[Utterance],
        settings: DecodeConfig | None = None,
        features: bool = False,
        progress: Callable[[int], Any] | None = None,
        attention: bool = False,
    ) -> list[list[Translation]]:
        """The n-best transcripts of each utterance, in order (`Transcriber.transcribe_features`:
        longest first in batches of ``settings.batch_size``, as `seq2seq transcribe` does)."""
        frames = [source.frames for source in sources]
        return self.transcriber.transcribe_features(frames, settings, progress, attention)

    def alignment(self, text: str, translation: Translation) -> Alignment | None:
        """None: attention over thousands of frames is not drawn (transcribe takes no
        'attention' field)."""
        return None


def _as_flags(message: str) -> str:
    """'(audio.max_seconds)' -> "(this server's --max-seconds)": the operator's flag."""
    return re.sub(
        r"\baudio\.([a-z_]+)", lambda m: "this server's --" + m[1].replace("_", "-"), message
    )
