"""Proof: manifests, the print file, the mailing book, the seal, verify and reconcile."""
