"""How Docker itself runs us: as the ``docker model`` CLI plugin and as a Compose provider."""
