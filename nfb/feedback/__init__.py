"""Feedback models: pure, Qt-free, testable. The GUI only renders what they compute."""
