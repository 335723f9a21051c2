"""Trial assistant backend: trial data layer, web app, channels and CLI."""
