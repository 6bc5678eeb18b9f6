"""Provider errors as values a person can read: what happened and what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from glmchat.errors import GlmchatError

if TYPE_CHECKING:
    from glmchat.backend.events import ToolCall


class ProviderError(GlmchatError):
    """Base of every backend failure. `kind` is the public vocabulary of DESIGN.md (the
    `ask --json` error kind); the command line maps it to an exit status at its edge."""

    kind: ClassVar[str] = "server"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        provider: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable  # type: ignore[misc]
        self.message = message
        self.http_status = http_status
        self.code = code
        self.provider = provider
        self.retry_after = retry_after
        # Set when the stream itself ended with an error finish_reason ("error", "network_error",
        # "sensitive", ...): the answer's own ending, reported as a failure.
        self.finish_reason: str | None = None
        # Tool calls that had arrived before the failure: never dropped, even on an error.
        self.tool_calls: tuple[ToolCall, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "http_status": self.http_status,
            "code": self.code,
            "retryable": self.retryable,
        }

    def __str__(self) -> str:
        return self.message


class AuthError(ProviderError):
    kind = "auth"


class QuotaError(ProviderError):
    kind = "quota"


class RateLimitError(ProviderError):
    kind = "rate_limit"
    retryable = True


class OverloadedError(ProviderError):
    kind = "overloaded"
    retryable = True


class ContextLengthError(ProviderError):
    kind = "context_length"


class BadRequestError(ProviderError):
    kind = "bad_request"


class ServerError(ProviderError):
    kind = "server"
    retryable = True


class NetworkError(ProviderError):
    kind = "network"
    retryable = True


class StreamInterrupted(ProviderError):
    """The stream stopped before its end; whatever arrived is kept by the caller."""

    kind = "interrupted"
    retryable = True


class ProtocolError(ProviderError):
    """The server sent something that is not the protocol."""

    kind = "protocol"
