"""siothread.adapters package."""
