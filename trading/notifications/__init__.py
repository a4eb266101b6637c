"""Notifications to the desk's chat, webhook or e-mail through apprise (issue 20)."""
