"""Ownership: owner mutations, the audit log (read and write) and ownership gaps."""
