"""Answer engines: the interface (`base.py`) and the CPU default engine (`default.py`); CLaRa lives in
`worker/clara/`, and `worker/runtime.py` picks one from settings."""
