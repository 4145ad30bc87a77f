"""What every layer of tunelab may import, and which imports nothing of tunelab above it: the error
base, the shared checks, the user's own code, the run folder's one owner, the objective."""
