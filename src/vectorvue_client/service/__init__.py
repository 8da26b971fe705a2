"""The application service: the client, the attempt loop (delivery), the two senders, the
outbox service and its worker. It talks to the world through the ports only; the
container (vectorvue_client.container) wires it, and nothing here imports the container."""
