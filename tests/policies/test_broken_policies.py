"""A table of broken policy files: each must be refused, at load and by `medassist policy check`, with its message.

Each case edits one shipped file (text replacements, as a maintainer would) in a copy of the policy
directory; the message is the whole line the checker prints: file, line, key path, bad value, what is
allowed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from medassist.cli import main
from medassist.engine.policy import POLICY_DIR, PolicyError, load_policies

# (id, file, [(old text, new text), ...], the message). ('', 'COPY:<file>') starts the file as a copy of
# <file> with a new policy_id, effective from 2024-01-01.
CASES: list[tuple[str, str, list[tuple[str, str]], str]] = [
    ('misspelt rate key', 'qinhuangdao-2023.yaml', [('{tekun: 0.80, dibao: 0.80, dibao_edge: 0.77', '{tekun: 0.80, diboa: 0.80, dibao_edge: 0.77')],
     "qinhuangdao-2023.yaml:84: lines[2].ratio.diboa: 'diboa' is not a category of this policy (tekun, dibao, dibao_edge, monitored_rural, illness_poverty, poverty_alleviated, returned_to_poverty) (in force from 2023-01-01)"),
    ('no catch-all line', 'qinhuangdao-2023.yaml', [('  - rule: general_outpatient   # no regular assistance, but part of the tilt burden\n    ref: "§二(三)3"\n    when: {}\n    burden: true\n', '')],
     "qinhuangdao-2023.yaml:79: lines[2].when: {'med_type_prefix': ['2']}: the last line must be the catch-all (when: {}), so that every settlement has a line (in force from 2023-01-01)"),
    ('impossible date', 'qinhuangdao-2023.yaml', [('effective_from: 2023-01-01', 'effective_from: 2023-02-30')],
     "qinhuangdao-2023.yaml:9: effective_from: '2023-02-30' is not a real date (allowed: YYYY-MM-DD, a day that exists)"),
    ('end before start', 'qinhuangdao-2023.yaml', [('effective_to: null', 'effective_to: 2022-12-31')],
     'qinhuangdao-2023.yaml:10: effective_to: 2022-12-31 is before effective_from 2023-01-01 (allowed: 2023-01-01 or later, or null)'),
    ('cap used not defined', 'qinhuangdao-2023.yaml', [('caps: [inpatient, regular_total]', 'caps: [inpatiant, regular_total]')],
     "qinhuangdao-2023.yaml:81: lines[2].caps[0]: cap 'inpatiant' is used but not defined under caps (defined: outpatient_chronic, outpatient_special, inpatient, regular_total, tilt) (in force from 2023-01-01)"),
    ('cap defined never used', 'qinhuangdao-2023.yaml', [('caps:                          # annual\n', 'caps:                          # annual\n  extra:\n    values:\n      2023-01-01: {value: 100, unit: yuan, ref: "§二(三)2"}\n')],
     "qinhuangdao-2023.yaml:46: caps.extra: cap 'extra' is defined but no line, supplement or tilt uses it (in force from 2023-01-01)"),
    ('ratio above 1', 'qinhuangdao-2023.yaml', [('{tekun: 0.80, dibao: 0.80, dibao_edge: 0.77', '{tekun: 0.80, dibao: 1.80, dibao_edge: 0.77')],
     'qinhuangdao-2023.yaml:84: lines[2].ratio.values.2023-01-01.value.dibao: 1.80 is outside 0-1 (allowed: a ratio from 0 to 1, e.g. 0.80)'),
    ('negative ratio', 'qinhuangdao-2023.yaml', [('{tekun: 0.80, dibao: 0.80, dibao_edge: 0.77', '{tekun: 0.80, dibao: -0.80, dibao_edge: 0.77')],
     'qinhuangdao-2023.yaml:84: lines[2].ratio.values.2023-01-01.value.dibao: -0.80 is outside 0-1 (allowed: a ratio from 0 to 1, e.g. 0.80)'),
    ('value with no reference', 'qinhuangdao-2023.yaml', [('  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}', '  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan}')],
     "qinhuangdao-2023.yaml:52: caps.inpatient.values.2023-01-01: a value with no reference (allowed: ref: the clause it comes from, e.g. '§二(三)2')"),
    ('plain number no date', 'qinhuangdao-2023.yaml', [('  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}', '  inpatient: 20000')],
     "qinhuangdao-2023.yaml:50: caps.inpatient: 20000 has no date, unit or reference (allowed: values: {YYYY-MM-DD: {value: 20000, unit: yuan, ref: '§...'}})"),
    ('wrong unit', 'qinhuangdao-2023.yaml', [('  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}', '  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: fen, ref: "§二(三)2"}')],
     "qinhuangdao-2023.yaml:52: caps.inpatient.values.2023-01-01.unit: 'fen' is not the unit of this parameter (allowed: yuan)"),
    ('ref not a clause', 'qinhuangdao-2023.yaml', [('  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}', '  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "section 2"}')],
     "qinhuangdao-2023.yaml:52: caps.inpatient.values.2023-01-01.ref: 'section 2' is not a clause reference (allowed: § and the clause number as the document writes it, e.g. '§二(三)2' or '§十四(二)')"),
    ('value before effective_from', 'qinhuangdao-2023.yaml', [('  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}', '  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}\n      2022-06-01: {value: 25000, unit: yuan, ref: "§二(三)2"}')],
     "qinhuangdao-2023.yaml:53: caps.inpatient.values.2022-06-01: dated 2022-06-01, before the policy's effective_from 2023-01-01: it would never decide anything (allowed: 2023-01-01 or later)"),
    ('value date not real', 'qinhuangdao-2023.yaml', [('  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}', '  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}\n      2024-02-30: {value: 25000, unit: yuan, ref: "§二(三)2"}')],
     "qinhuangdao-2023.yaml:53: caps.inpatient.values.2024-02-30: '2024-02-30' is not a real date (allowed: YYYY-MM-DD, a day that exists)"),
    ('duplicate key', 'qinhuangdao-2023.yaml', [('  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}', '  inpatient:\n    values:\n      2023-01-01: {value: 20000, unit: yuan, ref: "§二(三)2"}\n      2023-01-01: {value: 25000, unit: yuan, ref: "§二(三)2"}')],
     "qinhuangdao-2023.yaml:53: caps.inpatient.values.2023-01-01: '2023-01-01' is written twice in this mapping (line 52 and here)"),
    ('deductible key not a category', 'qinhuangdao-2023.yaml', [('outpatient:\n    values:\n      2023-01-01: {value: {dibao_edge: 3000', 'outpatient:\n    values:\n      2023-01-01: {value: {dibao_egde: 3000')],
     "qinhuangdao-2023.yaml:38: deductibles.outpatient.dibao_egde: 'dibao_egde' is not a category of this policy (tekun, dibao, dibao_edge, monitored_rural, illness_poverty, poverty_alleviated, returned_to_poverty) (in force from 2023-01-01)"),
    ('deductible pool undefined', 'qinhuangdao-2023.yaml', [('deductible: inpatient\n', 'deductible: inpatiant\n')],
     "qinhuangdao-2023.yaml:80: lines[2].deductible: pool 'inpatiant' is not defined under deductibles (defined: outpatient, inpatient) (in force from 2023-01-01)"),
    ('category not in vocabulary', 'qinhuangdao-2023.yaml', [('  tekun: {}\n', '  tekun: {}\n  disabled: {manual_review: no_rule_for_category}\n')],
     "qinhuangdao-2023.yaml:28: categories.disabled: 'disabled' is not a category of the vocabulary (vocabulary.yaml: tekun, orphan, unsupported_child, dibao, returned_to_poverty, monitored_rural, poverty_alleviated, dibao_edge, illness_poverty) (in force from 2023-01-01)"),
    ('manual-review code unknown', 'qinhuangdao-2023.yaml', [('poverty_alleviated: {manual_review: no_rule_for_category', 'poverty_alleviated: {manual_review: no_rule')],
     "qinhuangdao-2023.yaml:32: categories.poverty_alleviated.manual_review: 'no_rule' is not a manual-review code of refusal-codes.yaml (allowed: no_rule_for_category, transition_period_ended, dibao_class_missing, operator_parameter_missing, residence_missing, tier1_contribution_missing) (in force from 2023-01-01)"),
    ('application category undeclared', 'qinhuangdao-2023.yaml', [('application_categories: [illness_poverty]', 'application_categories: [illness_povrty]')],
     "qinhuangdao-2023.yaml:15: eligibility.application_categories[0]: 'illness_povrty' is not a category of this policy (tekun, dibao, dibao_edge, monitored_rural, illness_poverty, poverty_alleviated, returned_to_poverty) (in force from 2023-01-01)"),
    ('catch-all not last', 'qinhuangdao-2023.yaml', [('when: {med_type: ["14"], opsp_kind: [chronic]}', 'when: {}')],
     'qinhuangdao-2023.yaml:63: lines[0].when: matches every settlement, so lines[1] and after are never reached (allowed: the catch-all when: {} only as the last line) (in force from 2023-01-01)'),
    ('premium category not in policy', 'qinhuangdao-2023.yaml', [('  categories:\n    tekun:\n      ratio:', '  categories:\n    orphan:\n      ratio:')],
     "qinhuangdao-2023.yaml:108: premium_subsidy.categories.orphan: 'orphan' is not a category of this policy (tekun, dibao, dibao_edge, monitored_rural, illness_poverty, poverty_alleviated, returned_to_poverty) (in force from 2023-01-01)"),
    ('unknown top key', 'qinhuangdao-2023.yaml', [('effective_to: null', 'effective_to: null\neffective_form: 2023-01-01')],
     "qinhuangdao-2023.yaml:11: effective_form: unknown key 'effective_form' (allowed: policy_id, document, region, effective_from, effective_to, supersedes, payer_level, eligibility, admission, categories, deductibles, caps, diagnoses, lines, supplements, tilt, premium_subsidy, payees, early_warnings, funds) (in force from 2023-01-01)"),
    ('line without ref', 'qinhuangdao-2023.yaml', [('  - rule: inpatient\n    ref: "§二(三)2"\n', '  - rule: inpatient\n')],
     'qinhuangdao-2023.yaml:77: lines[2].ref: missing: this key is required here (in force from 2023-01-01)'),
    ('not YAML', 'qinhuangdao-2023.yaml', [('payer_level: county', 'payer_level: [county')],
     "qinhuangdao-2023.yaml:13: (top): not valid YAML: expected ',' or ']', but got '<scalar>'"),
    ('policy_id not the file name', 'qinhuangdao-2023.yaml', [('policy_id: qinhuangdao-2023', 'policy_id: qinhuangdao-2032')],
     "qinhuangdao-2023.yaml:4: policy_id: 'qinhuangdao-2032' differs from the file name (allowed: 'qinhuangdao-2023', so that messages and revisions name one thing)"),
    ('supersedes unknown', 'qinhuangdao-2023.yaml', [('effective_to: null', 'effective_to: null\nsupersedes: qinhuangdao-2019')],
     "qinhuangdao-2023.yaml:11: supersedes: 'qinhuangdao-2019' is not the policy_id of any file here (allowed: fushun-2014, kaizhou-2023, lanzhou-2022, qinhuangdao-2023)"),
    ('fixed amount unknown', 'lanzhou-2022.yaml', [('dibao: {fixed_amount: lanzhou_premium_subsidy_yuan}', 'dibao: {fixed_amount: lanzhou_premium_yuan}')],
     "lanzhou-2022.yaml:113: premium_subsidy.categories.dibao.fixed_amount: 'lanzhou_premium_yuan' is not an operator parameter (operator-parameters.yaml: lanzhou_premium_subsidy_yuan, rural_disposable_income_yuan)"),
    ('class group unknown', 'lanzhou-2022.yaml', [('classes: dibao_class,', 'classes: dibao_klass,')],
     "lanzhou-2022.yaml:31: categories.dibao.classes: 'dibao_klass' is not a class group of the vocabulary (allowed: dibao_class)"),
    ('category name as rate key of a classed category', 'lanzhou-2022.yaml', [('dibao_class_a: 0.75,', 'dibao: 0.75,')],
     "lanzhou-2022.yaml:60: lines[3].ratio.dibao: 'dibao' is not a category of this policy (tekun, orphan, unsupported_child, dibao_class_a, dibao_class_b, returned_to_poverty, monitored_rural, poverty_alleviated, dibao_edge, illness_poverty)"),
    ('diagnosis undefined', 'fushun-2014.yaml', [('{diagnosis: special_outpatient}', '{diagnosis: special_outpatiant}')],
     "fushun-2014.yaml:85: lines[1].when.any[0].diagnosis: 'special_outpatiant' is not a list under diagnoses (defined: special_outpatient, major_disease, rural_severe_mental)"),
    ('supplement on unknown line', 'fushun-2014.yaml', [('    lines: [inpatient]\n', '    lines: [inpatiant]\n')],
     "fushun-2014.yaml:101: supplements[0].lines[0]: 'inpatiant' is not a line of this policy (general_outpatient, inpatient, special_outpatient)"),
    ('ratio not a number', 'fushun-2014.yaml', [('dibao_edge: 0.36}', 'dibao_edge: 0.3b}')],
     "fushun-2014.yaml:82: lines[0].ratio.values.2014-11-27.value.dibao_edge: '0.3b' is not a ratio (allowed: a decimal from 0 to 1, e.g. 0.80)"),
    ('amount with three decimals', 'fushun-2014.yaml', [('{value: 70, unit: yuan', '{value: 70.125, unit: yuan')],
     'fushun-2014.yaml:34: caps.general_outpatient.values.2014-11-27.value: 70.125 is not an amount: more than two decimals (allowed: yuan, at most two decimals)'),
    ('tilt cap undefined', 'kaizhou-2023.yaml', [('  cap: tilt\n', '  cap: tilts\n')],
     "kaizhou-2023.yaml:80: tilt.cap: cap 'tilts' is used but not defined under caps (defined: regular_total, other_inpatient, tilt)"),
    ('until not a date', 'lanzhou-2022.yaml', [('monitored_rural: {until: 2025-12-31', 'monitored_rural: {until: 2025-13-31')],
     "lanzhou-2022.yaml:33: categories.monitored_rural.until: '2025-13-31' is not a real date (allowed: YYYY-MM-DD)"),
    ('months given in days', 'lanzhou-2022.yaml', [('{value: 12, unit: months', '{value: 12, unit: days')],
     "lanzhou-2022.yaml:19: eligibility.reach_back_months.values.2022-08-22.unit: 'days' is not the unit of this parameter (allowed: months)"),
    ('merge key', 'kaizhou-2023.yaml', [('  - rule: other_care\n', '  - <<: {burden: true}\n    rule: other_care\n')],
     'kaizhou-2023.yaml:64: lines[2]: YAML merge keys (<<) are not allowed: write the keys out'),
    ('enum value', 'kaizhou-2023.yaml', [('payer_level: county', 'payer_level: province')],
     "kaizhou-2023.yaml:10: payer_level: 'province' is not allowed (allowed: county, city)"),
    ('two policies for one region', 'kaizhou-2024.yaml', [('', 'COPY:kaizhou-2023.yaml')],
     'kaizhou-2024.yaml:8: effective_from: kaizhou-2024.yaml and kaizhou-2023.yaml are both in force for region 500154 from 2024-01-01, with no end (allowed: one policy per region and day: end one with effective_to, or write supersedes: kaizhou-2023)'),
]



def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "policies"
    d.mkdir(parents=True)
    for p in POLICY_DIR.glob("*.yaml"):
        shutil.copy(p, d / p.name)
    return d


def _break(d: Path, file: str, edits: list[tuple[str, str]]) -> None:
    path = d / file
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for old, new in edits:
        if old == "":  # a second file: a copy of a shipped one, as a new version from 2024
            text = ((POLICY_DIR / new.removeprefix("COPY:")).read_text(encoding="utf-8")
                    .replace("policy_id: kaizhou-2023", "policy_id: kaizhou-2024")
                    .replace("effective_from: 2023-07-01", "effective_from: 2024-01-01")
                    .replace("2023-07-01: {", "2024-01-01: {"))
            continue
        assert old in text, f"{file}: the case's text is not in the shipped file: {old!r}"
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("file", "edits", "message"), [pytest.param(f, e, m, id=i) for i, f, e, m in CASES])
def test_a_broken_policy_file_is_refused_with_its_message(tmp_path: Path, file: str, edits: list[tuple[str, str]],
                                                          message: str, capsys: pytest.CaptureFixture[str]) -> None:
    d = _copy(tmp_path)
    _break(d, file, edits)
    with pytest.raises(PolicyError) as e:
        load_policies(d)
    assert message in str(e.value).splitlines(), str(e.value)
    capsys.readouterr()
    assert main(["policy", "check", str(d)]) == 1
    assert message in capsys.readouterr().out.splitlines()


def test_the_table_is_long_enough() -> None:
    assert len(CASES) >= 30


def test_the_unbroken_copy_loads(tmp_path: Path) -> None:
    assert len(load_policies(_copy(tmp_path)).policies) >= 4
    assert main(["policy", "check", str(_copy(tmp_path / "again"))]) == 0
