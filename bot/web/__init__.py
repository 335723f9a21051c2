"""The aiohttp web app: demo page with the chat widget, and the staff console."""
