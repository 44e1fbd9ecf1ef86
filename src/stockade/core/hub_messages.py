"""Optional kernels' talk of the Hugging Face Hub, kept off the terminal in a closed network.

``import peft`` imports bitsandbytes whenever it is installed (peft/helpers.py), even for plain LoRA,
and bitsandbytes then asks the ``kernels`` package for an optional CPU kernel from the Hub. Offline
(the guard sets ``HF_HUB_OFFLINE``) that only looks in the local cache, finds nothing and logs a
warning telling the user to "download the kernel while online" — which reads like an egress attempt
to an auditor. Stockade's own code imports bitsandbytes only for 4-bit loading (QLoRA); hiding the
package from peft for other runs would break a later QLoRA run in the same process (peft caches
whether bitsandbytes is available), so its messages are translated instead: a Hub-related record from
these libraries becomes one DEBUG line of Stockade's own; every other record prints as before.
"""

from __future__ import annotations

import logging
import re
import sys

# loggers of libraries that fetch optional kernels from the Hub
KERNEL_LOGGERS = ("bitsandbytes", "kernels")
HUB_TALK = re.compile(r"hugging\s*face|\bhub\b|download|kernels-community|while online", re.IGNORECASE)
TRANSLATED = (
    "%s: an optional kernel from the Hugging Face Hub is not used (Stockade runs offline and never "
    "downloads); the library's built-in kernels run instead"
)
log = logging.getLogger("stockade.offline")


class _TranslateHubTalk(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if HUB_TALK.search(record.getMessage()):
            log.debug(TRANSLATED, record.name.split(".")[0])
            return False
        return True


class _Stderr(logging.Handler):
    """Like logging's last resort: the message alone, on the current ``sys.stderr``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def translate_hub_messages() -> None:
    """Route the kernel libraries' records through the translating filter. Safe to call more than once."""
    for name in KERNEL_LOGGERS:
        logger = logging.getLogger(name)
        if any(isinstance(handler, _Stderr) for handler in logger.handlers):
            continue
        handler = _Stderr(logging.WARNING)
        handler.addFilter(_TranslateHubTalk())
        logger.addHandler(handler)
        logger.propagate = False  # the handler above stands in for the last-resort one
