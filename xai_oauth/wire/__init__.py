"""The wire layer: pure translation between the wire formats (no I/O, no credentials, no clock)."""
