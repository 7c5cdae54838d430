"""What we ask Grok for: text, pictures and video, the model catalog, and the conversation a request is in."""
