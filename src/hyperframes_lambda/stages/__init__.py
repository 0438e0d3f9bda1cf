"""The three stages of a render (SPEC §5-7): plan, render a chunk, assemble."""
