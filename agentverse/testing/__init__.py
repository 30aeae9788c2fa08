"""Test helpers that speak the real protocols (a fake OpenAI-compatible server)."""
