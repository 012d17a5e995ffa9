"""Model definitions and the registry every page reads (see ``models.registry``)."""
