"""Building blocks shared by the network parts (attention layers, position encodings)."""
