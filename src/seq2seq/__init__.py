"""seq2seq: the Sutskever, Vinyals & Le (2014) encoder-decoder and its variants."""

__version__ = "0.1.0"

__all__ = ["Translator", "__version__"]


def __getattr__(name: str):
    """Lazy exports: ``from seq2seq import Translator`` loads PyTorch only when asked for."""
    if name == "Translator":
        from seq2seq.decode.translator import Translator

        return Translator
    raise AttributeError(f"module 'seq2seq' has no attribute '{name}'")
