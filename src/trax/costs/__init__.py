"""What transcripts cost: compute and LLM money per version, totalled per model, stage, project."""
