"""The agents' and admins' console: a web app served by a plugin (see console/README.md)."""
