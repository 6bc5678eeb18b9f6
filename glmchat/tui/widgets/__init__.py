"""Reusable widgets of the glmchat TUI."""
