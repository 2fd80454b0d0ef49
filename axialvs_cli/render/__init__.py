"""Pictures of results: overlays, the render command's inputs, attention maps."""
