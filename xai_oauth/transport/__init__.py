"""How a request reaches xAI: a credential becomes an origin, headers and a send, and a failure gets its meaning."""
