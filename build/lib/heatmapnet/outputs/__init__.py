"""Where tracked hands go: JSONL records, annotated video, the window overlay."""
