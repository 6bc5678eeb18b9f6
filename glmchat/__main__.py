"""Entry point for `python -m glmchat`."""

from glmchat.cli import main

raise SystemExit(main())
