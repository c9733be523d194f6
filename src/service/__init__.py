"""The application service: runs a batch through the domain's stages with threads, a clock and a deadline."""
