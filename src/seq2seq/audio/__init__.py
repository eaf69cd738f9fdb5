"""Audio in: reading sound files, log-mel features and SpecAugment (the source side of speech)."""
