"""Webhooks: endpoints, deliveries and attempts as the API shows them, and their mutations."""
