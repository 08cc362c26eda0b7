"""Sending messages: their send windows, the transports (SMTP, Maildir) and `letters send`."""
