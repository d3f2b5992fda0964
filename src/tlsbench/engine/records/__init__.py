"""What a run leaves: the typed record codec, run files, the result and stage details, strict JSON output, and the one redaction every event passes through."""
