"""``pseudonym``: a consistent, format-preserving fake with a valid checksum.

The fake is derived from HMAC(workspace secret, type + canonical value) (see ``derive.Rng``):
no mapping table, the same fake in every record and process, different fakes under different
secrets. A model trained on the result learns what an ID number, card or phone number looks
like (valid region, date, Luhn and GB check characters) but never whose it was. If a fake
happens to equal its original it is derived again with a counter in the HMAC input; a value
with nothing to redraw becomes the ``replace`` placeholder.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from stockade.privacy.operators import fake_numbers, fake_text
from stockade.privacy.operators.base import OPERATORS, BaseOperator, OperatorParams, label, require_secret
from stockade.privacy.operators.derive import Rng, scramble
from stockade.privacy.operators.normalize import normalize
from stockade.privacy.spans import PiiType, SpanType

MAX_TRIES = 32


class PseudonymParams(OperatorParams):
    keep_domain: bool = Field(True, description="Emails: keep the domain, fake only the local part.")
    keep_region: bool = Field(True, description="License plates: keep the province character.")
    keep_city: bool = Field(True, description="Addresses: keep the province/city prefix.")


Generator = Callable[[str, Rng, PseudonymParams], "str | None"]

GENERATORS: dict[PiiType, Generator] = {
    PiiType.ID_CARD: fake_numbers.fake_id_card,
    PiiType.MOBILE: fake_numbers.fake_mobile,
    PiiType.LANDLINE: fake_numbers.fake_landline,
    PiiType.BANK_CARD: fake_numbers.fake_bank_card,
    PiiType.USCC: fake_numbers.fake_uscc,
    PiiType.PASSPORT: fake_numbers.fake_document_number,
    PiiType.HK_MACAO_PERMIT: fake_numbers.fake_document_number,
    PiiType.EMAIL: fake_text.fake_email,
    PiiType.IPV4: fake_text.fake_ipv4,
    PiiType.IPV6: fake_text.fake_ipv6,
    PiiType.LICENSE_PLATE: fake_text.fake_license_plate,
    PiiType.PERSON: fake_text.fake_person,
    PiiType.ADDRESS: fake_text.fake_address,
}


def pseudonymize(value: str, pii_type: PiiType, params: PseudonymParams, secret: bytes) -> str:
    canonical = normalize(value, pii_type)
    generator = GENERATORS[pii_type]
    for counter in range(MAX_TRIES):
        rng = Rng(secret, pii_type, canonical, counter)
        fake = generator(value, rng, params)
        if fake is None:
            fake = scramble(value, rng)
        if fake != value and normalize(fake, pii_type) != canonical:
            return fake
    return f"<{label(pii_type)}>"


class PseudonymOperator(BaseOperator):
    name = "pseudonym"
    Params = PseudonymParams
    builtin_types_only = True  # every fake follows a built-in type's format

    def apply(self, value: str, pii_type: SpanType, params: BaseModel, secret: bytes) -> str:
        assert isinstance(params, PseudonymParams)
        return pseudonymize(value, pii_type, params, require_secret(self.name, secret))


OPERATORS.add(PseudonymOperator.name, PseudonymOperator())
