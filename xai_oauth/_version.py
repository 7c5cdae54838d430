"""Which releases this code is, and speaks as: xai-oauth's own, and the Grok CLI's that the chat proxy is told.

A leaf of its own, so the modules that need a version (the User-Agent, the
proxy's headers, the version gate, ``xai-oauth --version``) do not import the
package's root, whose lazy public names know every room, nor the routes.
"""

__all__ = ["GROK_CLI_VERSION", "__version__"]

__version__ = "0.2.0"

#: The Grok CLI release our proxy requests say they match (grok-build's xai-grok-version, 1.0.6 of 2026-08-18).
#: The proxy gates on it (426 when absent or too old); ``XAI_OAUTH_CLIENT_VERSION`` overrides it, and the version
#: gate (``transport/_version_gate``) remembers a newer one a 426 names.
GROK_CLI_VERSION = "1.0.6"
