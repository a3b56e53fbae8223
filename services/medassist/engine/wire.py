"""The input events as the wire carries them: msgspec Structs that mirror `schemas/*.schema.json`.

msgspec decodes a line straight into one of these and checks, in the same C pass, what the
JSON Schema says: required fields, types, lengths, patterns, ranges and enums. The schemas
stay the published contract; tests/engine/test_conformance.py proves that the two agree,
field by field. What a schema cannot say (dates that exist, amount arithmetic) is checked
next, in events.py, where the wire names become the engine's.

Patterns end in `\\Z`, not `$`: JSON Schema's regexes are ECMA 262, where `$` never matches
before a trailing newline (Python's does).

Amounts are `Raw`: the JSON text of the value, turned into integer fen from that text in
events.py, so a yuan amount never passes through a float.

JSON Schema's "integer" also takes 2024.0: those fields take floats too, and `__post_init__`
refuses one with a fraction (msgspec reports it as a validation error, like any other).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Raw

ID = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+\Z")]
ADMDVS = Annotated[str, Meta(pattern=r"^[0-9]{6}\Z")]
DAY = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")]
TIME = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                                    r"(Z|[+-][0-9]{2}:[0-9]{2})\Z")]
INSUTYPE = Annotated[str, Meta(pattern=r"^[0-9]{3}\Z")]
# Not a closed list: which categories exist is policy data (the engine refuses one no policy covers).
CATEGORY = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}\Z")]
RESIDENCE = Literal["urban", "rural"]
ABSENT = Raw()  # an optional amount not on the wire (null is not an amount: the schema refuses it)
MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{0,2})?$"  # the schema's, for a yuan amount written as a string


class Invalid(ValueError):
    """A schema rule msgspec cannot state by itself (an integer written as a float with a fraction)."""


def _integral(v: float | int | str | None, *allowed: float) -> None:
    if isinstance(v, float) and (not v.is_integer() or (allowed and v not in allowed)):
        raise Invalid("not an integer")


class SettlementIn(msgspec.Struct, tag_field="type", tag="settlement", gc=False):
    event_id: ID
    setl_id: ID
    psn_no: ID
    insuplc_admdvs: ADMDVS
    fixmedins_code: ID
    med_type: Annotated[str, Meta(pattern=r"^[0-9]{2,8}\Z")]
    setl_time: TIME
    medfee_sumamt: Raw
    inscp_scp_amt: Raw
    mdtrt_id: str | None = None
    hosp_lv: Literal["1", "2", "3", 1, 2, 3] | float | None = None
    designated: bool = True
    opsp_kind: Literal["chronic", "special"] | None = None
    dise_codg: Annotated[str, Meta(max_length=32)] | None = None
    special_disease: bool = False
    major_disease: bool = False
    gend: Literal["1", "2", "9"] | None = None
    age: Annotated[int, Meta(ge=0, le=150)] | Annotated[float, Meta(ge=0, le=150)] | None = None
    begndate: DAY | None = None
    hifp_pay: Raw = ABSENT
    hifmi_pay: Raw = ABSENT
    hifob_pay: Raw = ABSENT
    cvlserv_pay: Raw = ABSENT
    hifes_pay: Raw = ABSENT
    insured: bool = True
    emergency: bool = False
    referral: bool = False
    location: Literal["local", "in_province", "out_of_province"] = "local"
    remote_reg_date: DAY | None = None
    settlement_mode: Literal["direct", "manual"] = "direct"
    insutype: INSUTYPE = "390"
    residence: RESIDENCE | None = None
    inpatient_rated: bool = False

    def __post_init__(self) -> None:
        _integral(self.hosp_lv, 1.0, 2.0, 3.0)
        _integral(self.age)
        if self.med_type == "14" and self.opsp_kind is None:
            raise Invalid("med_type 14 must carry opsp_kind")


class EligibilityIn(msgspec.Struct, tag_field="type", tag="eligibility", gc=False):
    event_id: ID
    psn_no: ID
    insuplc_admdvs: ADMDVS
    category: CATEGORY
    action: Literal["grant", "revoke"]
    reported_at: DAY
    dibao_class: Literal["urban_full", "urban_partial", "rural_1", "rural_2", "rural_3", "rural_4"] | None = None
    applied_at: DAY | None = None
    residence: RESIDENCE | None = None


class ReversalIn(msgspec.Struct, tag_field="type", tag="reversal", gc=False):
    event_id: ID
    setl_id: ID
    psn_no: ID
    insuplc_admdvs: ADMDVS
    setl_time: TIME | None = None


class EnrollmentIn(msgspec.Struct, tag_field="type", tag="enrollment", gc=False):
    event_id: ID
    psn_no: ID
    insuplc_admdvs: ADMDVS
    year: Annotated[int, Meta(ge=2000, le=2100)] | Annotated[float, Meta(ge=2000, le=2100)]
    insutype: INSUTYPE
    contribution: Raw
    tier: Literal[1, 2] | float = 1
    tier1_contribution: Raw = ABSENT
    enrolled_at: DAY | None = None
    residence: RESIDENCE | None = None

    def __post_init__(self) -> None:
        _integral(self.year)
        _integral(self.tier, 1.0, 2.0)


EventIn = SettlementIn | EligibilityIn | ReversalIn | EnrollmentIn
KINDS = ("settlement", "eligibility", "reversal", "enrollment")
decoder = msgspec.json.Decoder(EventIn)
