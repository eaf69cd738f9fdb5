"""seq2seq-runtime: translate with a model exported by `seq2seq export`, without PyTorch.

    from seq2seq_runtime import Translator
    translator = Translator.from_dir("exported/")
    translator.translate(["A man rides a bike."], beam_size=5)

Imports numpy, onnxruntime and sentencepiece only (docs/deploy.md in the seq2seq repository).
"""

from seq2seq_runtime.errors import InputError, ModelDirError, RuntimeToolError, SettingsError
from seq2seq_runtime.search import Hypothesis, SearchSettings
from seq2seq_runtime.translator import Alignment, SourceLine, Translation, Translator

__all__ = [
    "Alignment",
    "Hypothesis",
    "InputError",
    "ModelDirError",
    "RuntimeToolError",
    "SearchSettings",
    "SettingsError",
    "SourceLine",
    "Translation",
    "Translator",
]
__version__ = "0.1.0"
