"""Organizations: the type, the organization queries and the ownership summary."""
