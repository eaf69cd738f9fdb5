"""Export: trained checkpoints out as ONNX graphs (an encoder and one decoder step per model),
vocabularies and decode defaults, for the PyTorch-free runtime in runtime/ (docs/deploy.md)."""
