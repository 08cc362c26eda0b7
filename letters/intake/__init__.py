"""Intake: the accounts file, the policy and the address sources, with bad rows rejected."""
