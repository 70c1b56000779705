"""The graded tests (hidden from students) and the pytest plugin that runs them."""
