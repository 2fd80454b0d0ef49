"""From network outputs to files: masks at the displayed size, the panoptic / instance rules, writers."""
