"""The engine's stages, in the order a message meets them."""
