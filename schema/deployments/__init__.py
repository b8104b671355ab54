"""Deployments: the type, its lists and fields, the admin mutations and the health policy."""
