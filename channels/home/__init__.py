"""The landing page at `/`: what runs here, each creator's space, the console, the API docs."""
