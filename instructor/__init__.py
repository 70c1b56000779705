"""Instructor tooling: the student release and the sandboxed auto-grader (never released)."""
