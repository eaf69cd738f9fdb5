"""Transcriber: recordings in, transcripts out; the decoding API under transcribe and the server.

A speech checkpoint is a `Translator`'s checkpoint whose source is an `AudioSource` (the feature
settings and the training data's normalisation, audio/features.py) instead of a vocabulary. The
Transcriber wraps such a Translator: it reads each recording (WAV, FLAC, OGG; any rate, resampled;
stereo mixed down), turns it into normalised log-mel frames with the checkpoint's own settings,
sorts the recordings by length so that each batch pads little, and hands the frames to the same
search as translation (greedy, beam, n-best, sampling, ensembles, bf16). Everything after the
frames is the Translator's: settings, model copies, the `Translation` results.

In Python::

    transcriber = Transcriber.load("best.safetensors")        # or several paths: an ensemble
    transcriber.transcribe(["a.wav", "b.flac"], beam_size=5)    # one string per recording
    transcriber.transcribe_hypotheses(files, settings)          # Translation objects, scores
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import torch

from seq2seq.audio.features import AudioSource
from seq2seq.audio.io import DEFAULT_MAX_SECONDS
from seq2seq.config import DEFAULT_MAX_SRC_LEN, DecodeConfig
from seq2seq.data.audio_batching import make_feature_batch
from seq2seq.decode.ctc_joint import CTCJoint, ctc_log_likelihoods, ctc_members
from seq2seq.decode.search import Hypothesis, search
from seq2seq.decode.translator import Translation, Translator
from seq2seq.errors import ConfigError
from seq2seq.precision import autocast

Recording = str | Path | IO[bytes]


class Transcriber:
    """Transcribe recordings with one speech checkpoint or an ensemble of them."""

    def __init__(self, translator: Translator, max_seconds: float | None = DEFAULT_MAX_SECONDS):
        if not isinstance(translator.src_vocab, AudioSource):
            raise ConfigError(
                f"checkpoint {translator.names[0]} reads text, not audio; transcribe needs a "
                "speech model (seq2seq translate reads this one)"
            )
        self.translator = translator
        self.source: AudioSource = translator.src_vocab
        self.max_seconds = max_seconds

    @classmethod
    def load(
        cls,
        paths: str | Path | Sequence[str | Path],
        device: str | torch.device = "cpu",
        max_seconds: float | None = DEFAULT_MAX_SECONDS,
    ) -> Transcriber:
        """One checkpoint path, or a list of them for an ensemble (same audio source, vocabulary)."""
        return cls(Translator.load(paths, device, DEFAULT_MAX_SRC_LEN), max_seconds)

    def settings(self, base: DecodeConfig | None = None, **overrides: Any) -> DecodeConfig:
        """The checkpoint's search settings with `overrides` (`Translator.settings`); a CTC weight
        for a model without a CTC head is a ConfigError here, before any search."""
        settings = self.translator.settings(base, **overrides)
        if settings.ctc_weight > 0:
            ctc_members(self.translator.model)
        return settings

    def features(self, recording: Recording, name: str | None = None) -> torch.Tensor:
        """Normalised frames (T, F) of one recording; an `AudioError` names it if it is bad."""
        return self.source.file_features(recording, self.max_seconds, name=name)

    def transcribe(
        self, recordings: Sequence[Recording], settings: DecodeConfig | None = None, **overrides
    ) -> list[str] | list[list[str]]:
        """One transcript per recording, or (n_best > 1) a list of n_best transcripts."""
        if settings is not None:
            overrides = {**settings.model_dump(), **overrides}
        settings = self.settings(**overrides)
        results = self.transcribe_hypotheses(recordings, settings)
        if settings.n_best == 1:
            return [hyps[0].text if hyps else "" for hyps in results]
        return [[h.text for h in hyps] for hyps in results]

    def transcribe_hypotheses(
        self,
        recordings: Sequence[Recording],
        settings: DecodeConfig | None = None,
        progress: Callable[[int], Any] | None = None,
        attention: bool = False,
    ) -> list[list[Translation]]:
        """The n-best `Translation`s of every recording, in input order (features first, so a bad
        recording stops the call before any search)."""
        frames = [self.features(r) for r in recordings]
        return self.transcribe_features(frames, settings, progress, attention)

    @torch.inference_mode()
    def transcribe_features(
        self,
        frames: Sequence[torch.Tensor],
        settings: DecodeConfig | None = None,
        progress: Callable[[int], Any] | None = None,
        attention: bool = False,
    ) -> list[list[Translation]]:
        """`transcribe_hypotheses` from normalised frames (T_i, F), longest first in batches of
        ``settings.batch_size``; `progress(n)` is called as batches finish."""
        settings = settings or self.settings()
        if settings.shortlist or settings.replace_unk:
            what = "decode.shortlist" if settings.shortlist else "decode.replace_unk"
            raise ConfigError(f"{what} needs source words, but a speech model's source is audio")
        order = sorted(range(len(frames)), key=lambda i: -len(frames[i]))
        results: list[list[Translation]] = [[] for _ in frames]
        model = self.translator._model_for(settings.precision)  # the bf16 copy, made once
        if settings.ctc_weight > 0:
            ctc_members(model)  # a model without a CTC head is refused before any search
        device = self.translator.device
        for start in range(0, len(order), settings.batch_size):
            rows = order[start : start + settings.batch_size]
            src, lengths = make_feature_batch([frames[i] for i in rows])
            src, lengths = src.to(device), lengths.to(device)
            with autocast(settings.precision, device):
                ranked = self._search(model, src, lengths, settings, attention, rows)
            for row, row_hyps in zip(rows, ranked, strict=True):
                results[row] = [self._result(h, ctc, attention) for h, ctc in row_hyps]
            if progress is not None:
                progress(len(rows))
        return results

    def _search(
        self, model, src, lengths, settings: DecodeConfig, attention: bool, rows: list[int]
    ) -> list[list[tuple[Hypothesis, float | None]]]:
        """One batch's n-best, each hypothesis with its CTC log-likelihood when the search mixes
        in the CTC head's prefix scores (``settings.ctc_weight``, decode/ctc_joint.py)."""
        lines = [i + 1 for i in rows]
        if settings.ctc_weight == 0:
            hyps = search(model, src, lengths, settings, None, attention, lines)
            return [[(h, None) for h in row] for row in hyps]
        joint = CTCJoint(model, settings.ctc_weight)
        hyps = search(joint, src, lengths, settings, None, attention, lines)
        ctc = ctc_log_likelihoods(model, src, lengths, hyps, joint.frames)  # not encoded again
        return [
            list(zip(row, row_ctc, strict=True)) for row, row_ctc in zip(hyps, ctc, strict=True)
        ]

    def _result(self, hyp: Hypothesis, ctc: float | None, attention: bool) -> Translation:
        text = self.translator.tgt_vocab.decode(hyp.tokens)
        weights = hyp.attention if attention else None
        scores = {"logprob": hyp.log_prob} if ctc is None else {"joint": hyp.log_prob, "ctc": ctc}
        return Translation(text, hyp.tokens, hyp.log_prob, hyp.score, scores, weights)
