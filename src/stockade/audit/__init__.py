"""The tamper-evident audit log (hash chain). Services write events; nothing deletes them."""

from stockade.audit.log import AuditEvent, AuditLog, record_as_dict
from stockade.audit.sink import AuditSink
from stockade.audit.verify import Verification, verify_chain

__all__ = ["AuditEvent", "AuditLog", "AuditSink", "Verification", "record_as_dict", "verify_chain"]
