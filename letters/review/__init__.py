"""The review queue: debtors held for their address, and a person's decision coming back."""
