"""siothread.server package."""
