"""Outgoing webhooks: per-user endpoints, signed deliveries as queued jobs, a delivery log."""
