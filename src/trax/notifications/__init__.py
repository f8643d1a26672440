"""Live notifications: job progress and completion pushed to their owner over a WebSocket."""
