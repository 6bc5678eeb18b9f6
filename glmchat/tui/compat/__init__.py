"""Named shims over Textual, rich and markdown-it internals, one module per library.

Nothing else in glmchat may use a private API of those libraries; tests/test_compat.py checks
every reliance listed here and fails loudly when an upgrade changes one.
"""
