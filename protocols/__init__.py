"""Built-in protocol presets: in the wheel this folder is the package ``nfb.builtin_protocols``."""
