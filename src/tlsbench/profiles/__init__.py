"""Saved connection profiles: one TOML file per profile under the config directory.

`model` holds the Profile value, `codec` maps it to and from TOML, `store` reads and writes the files.
"""
