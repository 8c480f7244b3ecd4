"""Built-in device profiles: in the wheel this folder is the package ``nfb.builtin_devices``."""
