"""Decide: per debtor, which letter (stage, tone, template, mail class) or why none may go."""
