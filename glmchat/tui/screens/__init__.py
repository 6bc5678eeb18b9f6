"""Modal screens: the session picker, the API key prompt, a one-line text prompt."""
