"""`glmchat models`: the models a provider offers, from GET {base_url}/models."""

from __future__ import annotations

import argparse
import asyncio
import sys

from glmchat.backend.errors import ProviderError
from glmchat.cli.errors import CliError
from glmchat.sentences import join_sentences


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="list a provider's models")
    p.add_argument(
        "--provider", metavar="NAME", help="provider name (default: the default model's)"
    )
    p.add_argument("--base-url", metavar="URL", help="override the provider's base URL")
    p.add_argument(
        "--configured",
        action="store_true",
        help="print the configured models without asking the provider",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glmchat.backend.openai_compat import list_models
    from glmchat.config import load_settings
    from glmchat.credentials import CredentialStore, MissingKeyError, require_key

    # A config or credentials problem (or a missing key) goes up to the edge as it is.
    settings = load_settings()
    name = args.provider or settings.default_provider
    provider = settings.providers.get(name)
    if provider is None:
        known = ", ".join(settings.providers)
        raise CliError(f'unknown provider "{name}"; known providers: {known}', 2)
    if args.configured:
        for model in provider.models:
            print(f"{provider.name}/{model}")
        return 0
    try:
        secret = require_key(provider, CredentialStore())
    except MissingKeyError:
        if not args.base_url:
            raise
        secret = None
    try:
        ids = asyncio.run(
            list_models(provider, secret.reveal() if secret else None, base_url=args.base_url)
        )
    except ProviderError as exc:
        if provider.models and exc.http_status == 404:
            # Some servers have no /models endpoint; the configured list is still true.
            shown = join_sentences(exc.message, "Showing the configured models.")
            print(f"glmchat: {shown}", file=sys.stderr)
            ids = list(provider.models)
        else:
            raise
    for model in ids:
        print(f"{provider.name}/{model}")
    return 0
