"""API routes, one module per resource; each public module defines ``router``."""
