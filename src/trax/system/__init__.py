"""System: liveness, readiness, version and the models this server can use."""
