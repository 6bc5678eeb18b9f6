"""glmchat: a fast terminal chat client for GLM-4.5 models."""

__version__ = "0.1.0"
