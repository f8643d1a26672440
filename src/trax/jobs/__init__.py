"""Jobs: one durable row per unit of work; the row is the truth."""
