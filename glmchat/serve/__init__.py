"""`glmchat serve`: the chat app in a browser through textual-serve, behind a token."""
