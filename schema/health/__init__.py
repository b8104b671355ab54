"""Health: the health event log, recording events, acknowledging them and escalation."""
