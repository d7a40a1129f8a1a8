"""Click commands, one module per sub-command; each parses options and calls a working module."""
