"""Optional API keys: a text file with one key per line; '#' starts a comment.

With keys enabled, the translation endpoints answer 403 to a request without a valid key
(LibreTranslate sends it as ``api_key`` in the body; the native API also takes an
``X-API-Key`` header or ``Authorization: Bearer KEY``). The other endpoints stay open.
Keys are compared in constant time, so response times do not leak how much of a key matched.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from seq2seq.errors import ConfigError, ServeError

MIN_KEY_LENGTH = 8


class ApiKeys:
    """The set of accepted keys."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigError("the API key list is empty; add at least one key")
        self._keys = [key.encode("utf-8") for key in keys]

    @classmethod
    def from_file(cls, path: str | Path) -> ApiKeys:
        path = Path(path)
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "strerror", None) or "not UTF-8 text"
            raise ConfigError(f"cannot read the API key file {path}: {reason}") from None
        keys = []
        for lineno, line in enumerate(text.splitlines(), 1):
            key = line.split("#", 1)[0].strip()
            if not key:
                continue
            if len(key) < MIN_KEY_LENGTH or any(c.isspace() for c in key):
                raise ConfigError(
                    f"{path}:{lineno}: an API key must be one word of at least "
                    f"{MIN_KEY_LENGTH} characters"
                )
            keys.append(key)
        if not keys:
            raise ConfigError(f"the API key file {path} holds no key")
        return cls(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def check(self, key: str | None) -> None:
        """Return if `key` is accepted; raise ServeError(403) otherwise."""
        if not key:
            raise ServeError("this server needs an API key: send it as 'api_key'", 403)
        given = key.encode("utf-8", "replace")
        matched = False
        for accepted in self._keys:  # no early exit: the time does not depend on which matched
            matched |= hmac.compare_digest(given, accepted)
        if not matched:
            raise ServeError("the API key is not valid", 403)
