"""Production hardening: limits, HTTP spec, failures, observability, container, browser."""
