"""The local server: the subscription as an OpenAI- and Anthropic-compatible endpoint (``xai-oauth serve``)."""
