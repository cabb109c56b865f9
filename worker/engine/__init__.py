"""Answer engines: the interface, the CPU default engine, and the factory that picks one."""
