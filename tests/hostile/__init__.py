"""Attacks on the client's promises, against real servers on 127.0.0.1."""
