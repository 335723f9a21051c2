"""Custom actions: thin wrappers that read facts through bot.trials and fill response templates."""
