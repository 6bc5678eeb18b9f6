"""Tools the model may call: built-in, MCP servers' and Z.ai's web search (no Textual)."""
