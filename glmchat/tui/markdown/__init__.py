"""Streamed Markdown as data: its blocks and their rendered lines, without Textual."""
