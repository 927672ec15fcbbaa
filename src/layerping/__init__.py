"""layerping: a ping that builds every protocol layer itself."""
