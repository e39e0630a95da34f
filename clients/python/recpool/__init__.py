"""RecPool's Python client: score, recommend, feedback, train and evaluate against a RecPool pool.

Written from docs/PROTOCOL.md (protocol v1). ``Client`` blocks; ``AsyncClient`` awaits. Every refusal
is a typed exception named for its status (``Busy``, ``Expired``, ``NoWorker``, ``BadRequest``...).
pandas helpers (the impression log as OBD/obp data, a DataFrame as an upload) are in ``recpool.frames``.
"""
from .aio import AsyncClient, AsyncJob
from .client import Client, Job
from .errors import (BadRequest, Busy, Cancelled, Closed, Conflict, DatasetFormatError, Expired, ExportFormatError,
                     HandshakeFailed, Internal, InvalidRequest, JobFailed, NoWorker, NotFound, ProtocolViolation,
                     RecPoolError, Timeout, TooLarge, TooManyOpenFiles, Unauthorized, UnsupportedVersion, WorkerLost)
from .results import FeedbackAck, Health, Scores, Slate, Timings
from .wire import PROTOCOL_VERSION, Command, Status

__all__ = [
    "AsyncClient", "AsyncJob", "Client", "Job", "BadRequest", "Busy", "Cancelled", "Closed", "Conflict",
    "DatasetFormatError", "Expired", "ExportFormatError", "HandshakeFailed", "Internal", "InvalidRequest", "JobFailed",
    "NoWorker", "NotFound", "ProtocolViolation",
    "RecPoolError", "Timeout", "TooLarge", "TooManyOpenFiles", "Unauthorized", "UnsupportedVersion", "WorkerLost",
    "FeedbackAck", "Health", "Scores", "Slate", "Timings", "PROTOCOL_VERSION", "Command", "Status",
]
__version__ = "0.1.0"
