"""siothread.client package."""
