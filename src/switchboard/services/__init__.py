"""Admin use cases shared by the API, the UI and the command line."""
