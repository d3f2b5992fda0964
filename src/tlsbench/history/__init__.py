"""The history of runs: every run of a profile kept as a JSON line (store.py), the settings that
bound it (settings.py), what a record holds (record.py) and two runs side by side (compare.py).

No Textual here: `tlsbench probe`, `tlsbench history` and the workbench share it.
"""
