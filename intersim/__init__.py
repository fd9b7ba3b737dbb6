"""intersim: discrete-event simulation of intermittently powered MCUs running int8 inference."""
__version__ = "0.1.0"
