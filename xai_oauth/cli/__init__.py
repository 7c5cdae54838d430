"""The ``xai-oauth`` command: how a person at a terminal signs in, asks and looks after a pool."""
