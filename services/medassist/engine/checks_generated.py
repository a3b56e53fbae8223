"""Generated from schemas/{settlement,eligibility,reversal,enrollment}.schema.json
by `python3 -m medassist.engine.validator --write` (medassist/engine/validator.py): do not edit.

The fused check-and-convert functions of validator.compile_parse, written as a module so that mypyc
compiles them (setup.py's COMPILED; the exec'd ones stay interpreted). events.py uses PARSERS while INPUTS
is the digest of its current schemas, converters and outputs, and the exec'd functions otherwise (with a
RuntimeWarning). tests/engine/test_checks_generated.py fails while this text differs from what the schemas
and validator.py now give: after changing either, run the command above and commit the result.
"""
# ruff: noqa: E501

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from medassist.engine.convert import day, fen, shanghai_day
from medassist.engine.validator import NOT_SURE

INPUTS: Final = '8cf674c100c547b4194b76bfeb10e164'  # validator.inputs_digest of what this was generated from
_M: Final = object()  # what d.get gives for an absent property
_NS: Final = NOT_SURE  # a converter cannot vouch for the value


def parse_settlement(d: dict[str, Any]) -> tuple[Any, ...] | None:
    v0: Any = d.get('type', _M)
    if (type(v0) is not str or v0 not in {'settlement'}):
        return None
    v1: Any = d.get('event_id', _M)
    if (type(v1) is not str or not (1 <= len(v1) <= 64 and (v1.isascii() and v1.isprintable() and " " not in v1 and v1 != ""))):
        return None
    v2: Any = d.get('setl_id', _M)
    if (type(v2) is not str or not (1 <= len(v2) <= 64 and (v2.isascii() and v2.isprintable() and " " not in v2 and v2 != ""))):
        return None
    v3: Any = d.get('mdtrt_id')
    if v3 is not None and (type(v3) is not str):
        return None
    v4: Any = d.get('psn_no', _M)
    if (type(v4) is not str or not (1 <= len(v4) <= 64 and (v4.isascii() and v4.isprintable() and " " not in v4 and v4 != ""))):
        return None
    v5: Any = d.get('insuplc_admdvs', _M)
    if (type(v5) is not str or not (6 <= len(v5) <= 6 and v5.isascii() and v5.isdigit())):
        return None
    v6: Any = d.get('fixmedins_code', _M)
    if (type(v6) is not str or not (1 <= len(v6) <= 64 and (v6.isascii() and v6.isprintable() and " " not in v6 and v6 != ""))):
        return None
    v7: Any = d.get('hosp_lv')
    if v7 is not None and ((type(v7) is not int and type(v7) is not str) or v7 not in {'1', '2', '3', 1, 2, 3, None}):
        return None
    if type(d.get('designated', True)) is not bool:
        return None
    v9: Any = d.get('med_type', _M)
    if (type(v9) is not str or not (2 <= len(v9) <= 8 and v9.isascii() and v9.isdigit())):
        return None
    v10: Any = d.get('opsp_kind')
    if v10 is not None and (type(v10) is not str or v10 not in {'chronic', 'special', None}):
        return None
    v11: Any = d.get('dise_codg')
    if v11 is not None and (type(v11) is not str or (type(v11) is str and not (0 <= len(v11) <= 32))):
        return None
    if type(d.get('special_disease', True)) is not bool:
        return None
    if type(d.get('major_disease', True)) is not bool:
        return None
    v14: Any = d.get('gend')
    if v14 is not None and (type(v14) is not str or v14 not in {'1', '2', '9', None}):
        return None
    v15: Any = d.get('age')
    if v15 is not None and (type(v15) is not int or ((type(v15) is int or type(v15) is float) and v15 < 0) or ((type(v15) is int or type(v15) is float) and v15 > 150)):
        return None
    v16: Any = d.get('begndate')
    if v16 is not None and (type(v16) is not str):
        return None
    c16 = None if v16 is None else day(v16)
    if c16 is _NS:
        return None
    v17: Any = d.get('setl_time', _M)
    if (type(v17) is not str):
        return None
    c17 = shanghai_day(v17)
    if c17 is _NS:
        return None
    v18: Any = d.get('medfee_sumamt', _M)
    if ((type(v18) is not float and type(v18) is not int and type(v18) is not str) or ((type(v18) is int or type(v18) is float) and v18 < 0)):
        return None
    c18 = fen(v18)
    if c18 is _NS:
        return None
    v19: Any = d.get('inscp_scp_amt', _M)
    if ((type(v19) is not float and type(v19) is not int and type(v19) is not str) or ((type(v19) is int or type(v19) is float) and v19 < 0)):
        return None
    c19 = fen(v19)
    if c19 is _NS:
        return None
    v20: Any = d.get('hifp_pay', _M)
    if v20 is not _M and ((type(v20) is not float and type(v20) is not int and type(v20) is not str) or ((type(v20) is int or type(v20) is float) and v20 < 0)):
        return None
    c20 = None if v20 is _M else fen(v20)
    if c20 is _NS:
        return None
    v21: Any = d.get('hifmi_pay', _M)
    if v21 is not _M and ((type(v21) is not float and type(v21) is not int and type(v21) is not str) or ((type(v21) is int or type(v21) is float) and v21 < 0)):
        return None
    c21 = None if v21 is _M else fen(v21)
    if c21 is _NS:
        return None
    v22: Any = d.get('hifob_pay', _M)
    if v22 is not _M and ((type(v22) is not float and type(v22) is not int and type(v22) is not str) or ((type(v22) is int or type(v22) is float) and v22 < 0)):
        return None
    c22 = None if v22 is _M else fen(v22)
    if c22 is _NS:
        return None
    v23: Any = d.get('cvlserv_pay', _M)
    if v23 is not _M and ((type(v23) is not float and type(v23) is not int and type(v23) is not str) or ((type(v23) is int or type(v23) is float) and v23 < 0)):
        return None
    c23 = None if v23 is _M else fen(v23)
    if c23 is _NS:
        return None
    v24: Any = d.get('hifes_pay', _M)
    if v24 is not _M and ((type(v24) is not float and type(v24) is not int and type(v24) is not str) or ((type(v24) is int or type(v24) is float) and v24 < 0)):
        return None
    c24 = None if v24 is _M else fen(v24)
    if c24 is _NS:
        return None
    if type(d.get('insured', True)) is not bool:
        return None
    if type(d.get('emergency', True)) is not bool:
        return None
    if type(d.get('referral', True)) is not bool:
        return None
    v28: Any = d.get('location', _M)
    if v28 is not _M and (type(v28) is not str or v28 not in {'in_province', 'local', 'out_of_province'}):
        return None
    v29: Any = d.get('remote_reg_date')
    if v29 is not None and (type(v29) is not str):
        return None
    c29 = None if v29 is None else day(v29)
    if c29 is _NS:
        return None
    v30: Any = d.get('settlement_mode', _M)
    if v30 is not _M and (type(v30) is not str or v30 not in {'direct', 'manual'}):
        return None
    v31: Any = d.get('insutype', _M)
    if v31 is not _M and (type(v31) is not str or not (3 <= len(v31) <= 3 and v31.isascii() and v31.isdigit())):
        return None
    v32: Any = d.get('residence')
    if v32 is not None and (type(v32) is not str or v32 not in {'rural', 'urban', None}):
        return None
    if type(d.get('inpatient_rated', True)) is not bool:
        return None
    return (c17, c18, c19, c20, c21, c22, c23, c24, c16, c29, )


def parse_eligibility(d: dict[str, Any]) -> tuple[Any, ...] | None:
    v0: Any = d.get('type', _M)
    if (type(v0) is not str or v0 not in {'eligibility'}):
        return None
    v1: Any = d.get('event_id', _M)
    if (type(v1) is not str or not (1 <= len(v1) <= 64 and (v1.isascii() and v1.isprintable() and " " not in v1 and v1 != ""))):
        return None
    v2: Any = d.get('psn_no', _M)
    if (type(v2) is not str or not (1 <= len(v2) <= 64 and (v2.isascii() and v2.isprintable() and " " not in v2 and v2 != ""))):
        return None
    v3: Any = d.get('insuplc_admdvs', _M)
    if (type(v3) is not str or not (6 <= len(v3) <= 6 and v3.isascii() and v3.isdigit())):
        return None
    v4: Any = d.get('category', _M)
    if (type(v4) is not str or v4 not in {'dibao', 'dibao_edge', 'illness_poverty', 'monitored_rural', 'orphan', 'poverty_alleviated', 'returned_to_poverty', 'tekun', 'unsupported_child'}):
        return None
    v5: Any = d.get('action', _M)
    if (type(v5) is not str or v5 not in {'grant', 'revoke'}):
        return None
    v6: Any = d.get('reported_at', _M)
    if (type(v6) is not str):
        return None
    c6 = day(v6)
    if c6 is _NS:
        return None
    v7: Any = d.get('dibao_class')
    if v7 is not None and (type(v7) is not str or v7 not in {'rural_1', 'rural_2', 'rural_3', 'rural_4', 'urban_full', 'urban_partial', None}):
        return None
    v8: Any = d.get('applied_at')
    if v8 is not None and (type(v8) is not str):
        return None
    c8 = None if v8 is None else day(v8)
    if c8 is _NS:
        return None
    v9: Any = d.get('residence')
    if v9 is not None and (type(v9) is not str or v9 not in {'rural', 'urban', None}):
        return None
    return (c6, c8, )


def parse_reversal(d: dict[str, Any]) -> tuple[Any, ...] | None:
    v0: Any = d.get('type', _M)
    if (type(v0) is not str or v0 not in {'reversal'}):
        return None
    v1: Any = d.get('event_id', _M)
    if (type(v1) is not str or not (1 <= len(v1) <= 64 and (v1.isascii() and v1.isprintable() and " " not in v1 and v1 != ""))):
        return None
    v2: Any = d.get('setl_id', _M)
    if (type(v2) is not str or not (1 <= len(v2) <= 64 and (v2.isascii() and v2.isprintable() and " " not in v2 and v2 != ""))):
        return None
    v3: Any = d.get('psn_no', _M)
    if (type(v3) is not str or not (1 <= len(v3) <= 64 and (v3.isascii() and v3.isprintable() and " " not in v3 and v3 != ""))):
        return None
    v4: Any = d.get('insuplc_admdvs', _M)
    if (type(v4) is not str or not (6 <= len(v4) <= 6 and v4.isascii() and v4.isdigit())):
        return None
    v5: Any = d.get('setl_time')
    if v5 is not None and (type(v5) is not str):
        return None
    c5 = None if v5 is None else shanghai_day(v5)
    if c5 is _NS:
        return None
    return (c5, )


def parse_enrollment(d: dict[str, Any]) -> tuple[Any, ...] | None:
    v0: Any = d.get('type', _M)
    if (type(v0) is not str or v0 not in {'enrollment'}):
        return None
    v1: Any = d.get('event_id', _M)
    if (type(v1) is not str or not (1 <= len(v1) <= 64 and (v1.isascii() and v1.isprintable() and " " not in v1 and v1 != ""))):
        return None
    v2: Any = d.get('psn_no', _M)
    if (type(v2) is not str or not (1 <= len(v2) <= 64 and (v2.isascii() and v2.isprintable() and " " not in v2 and v2 != ""))):
        return None
    v3: Any = d.get('insuplc_admdvs', _M)
    if (type(v3) is not str or not (6 <= len(v3) <= 6 and v3.isascii() and v3.isdigit())):
        return None
    v4: Any = d.get('year', _M)
    if (type(v4) is not int or ((type(v4) is int or type(v4) is float) and v4 < 2000) or ((type(v4) is int or type(v4) is float) and v4 > 2100)):
        return None
    v5: Any = d.get('insutype', _M)
    if (type(v5) is not str or not (3 <= len(v5) <= 3 and v5.isascii() and v5.isdigit())):
        return None
    v6: Any = d.get('tier', _M)
    if v6 is not _M and (type(v6) is not int or v6 not in {1, 2}):
        return None
    v7: Any = d.get('contribution', _M)
    if ((type(v7) is not float and type(v7) is not int and type(v7) is not str) or ((type(v7) is int or type(v7) is float) and v7 < 0)):
        return None
    c7 = fen(v7)
    if c7 is _NS:
        return None
    v8: Any = d.get('tier1_contribution', _M)
    if v8 is not _M and ((type(v8) is not float and type(v8) is not int and type(v8) is not str) or ((type(v8) is int or type(v8) is float) and v8 < 0)):
        return None
    c8 = None if v8 is _M else fen(v8)
    if c8 is _NS:
        return None
    v9: Any = d.get('enrolled_at')
    if v9 is not None and (type(v9) is not str):
        return None
    c9 = None if v9 is None else day(v9)
    if c9 is _NS:
        return None
    v10: Any = d.get('residence')
    if v10 is not None and (type(v10) is not str or v10 not in {'rural', 'urban', None}):
        return None
    return (c7, c8, c9, )


PARSERS: Final[dict[str, Callable[[dict[str, Any]], tuple[Any, ...] | None]]] = {
    'settlement': parse_settlement,
    'eligibility': parse_eligibility,
    'reversal': parse_reversal,
    'enrollment': parse_enrollment,
}
