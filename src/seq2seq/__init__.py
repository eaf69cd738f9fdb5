"""seq2seq: the Sutskever, Vinyals & Le (2014) encoder-decoder and its variants."""

__version__ = "0.1.0"
