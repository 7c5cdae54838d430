"""A sign-in's life: the device grant, refresh, sign-out, identity, and where the credential is kept."""
