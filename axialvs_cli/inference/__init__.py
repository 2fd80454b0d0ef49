"""The network over videos: device, model loading, preprocessing, tracking, the runners."""
