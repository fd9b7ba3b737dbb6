"""Domain errors. Every one subclasses ``ValueError`` and carries a one-line message that
names the offending file/row/key, echoes the bad value and states what is allowed."""


class IntersimError(ValueError):
    """Base class of every error intersim raises on bad input."""


class ScenarioError(IntersimError):
    """A scenario or sweep file is malformed: names the key, the value and what is allowed."""


class TraceError(IntersimError):
    """A trace file or array is refused: names the file and row."""


class ModelError(IntersimError):
    """A network or ONNX file cannot be used: names the node and op."""


class PlatformError(IntersimError):
    """An unknown platform preset or an invalid platform constant."""


class SchedulerError(IntersimError):
    """An unknown scheduler name or a scheduler that broke the interface contract."""


class OutputError(IntersimError):
    """An output file or folder cannot be written: names it and the reason."""
