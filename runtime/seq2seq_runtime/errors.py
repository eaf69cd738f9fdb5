"""The runtime's errors: one sentence for a person, typed for callers."""


class RuntimeToolError(Exception):
    """Base of every error the runtime raises on purpose."""


class ModelDirError(RuntimeToolError):
    """The exported folder is missing, incomplete or of another format version."""


class SettingsError(RuntimeToolError):
    """A search setting out of range, or one the runtime does not do."""


class InputError(RuntimeToolError):
    """An input the model cannot read."""
