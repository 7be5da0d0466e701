"""One typed error for every refusal of a compatibility call; each vendor module turns it
into its own error body (Tencent: HTTP 200 `Response.Error`; Aliyun: HTTP 4xx for
signatures, HTTP 200 with `Code` for business errors)."""

from __future__ import annotations


class CompatError(Exception):
    """`kind` is vendor-neutral (auth, expired, unknown_id, replay, invalid, conflict,
    limited, store, action); each vendor maps it to its code."""

    def __init__(self, kind: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code  # a vendor-specific code that overrides the kind's default
