"""flask_siothread: the Flask extension for siothread (installed under this import name)."""
