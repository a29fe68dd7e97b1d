#!/usr/bin/env python3
"""Writes the JSON part of the hostile corpus: tests/hostile/json/<Type>/<answer>-<case>.json

answer: ok (accepted), 400 (E_BAD_INPUT), 422 (E_VALIDATION naming one field); replayed by
`cargo test -p kmn-web hostile_bodies` and the seeds of the fuzz target `json` (issue 9 item 5).
Usage: scripts/hostile-json-corpus.py tests/hostile/json   (deterministic; files added by hand stay)."""
import json, os, sys
root = sys.argv[1]
CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMIIBAA==\n-----END CERTIFICATE REQUEST-----\n"
V = {
 "FacilityIn": ({"code":"4310000001","kind":"hospital","name_kanji":"熊本デモ病院","name_kana":"クマモトデモビョウイン","name_romaji":"Kumamoto Demo Hospital","postal_code":"860-0806","address":"熊本県熊本市中央区花畑町1-1","phone":"096-000-0000","email":"desk@demo-hospital.example.jp"}, None),
 "ConsentIn": ({"kind":"terms","version":"demo-1","given_by":"窓口 花子"}, None),
 "PersonIn": ({"facility_code":"4310000001","name_kanji":"看護 太郎","name_kana":"カンゴ タロウ","name_romaji":"Taro Kango","date_of_birth":"1980-04-01","profession":"nurse","work_email":"taro@demo-hospital.example.jp","permitted":True,"is_desk":False,"licence_checked":False}, ["permitted","is_desk","licence_checked"]),
 "ApplicationIn": ({"facility_code":"4310000001","holder_id":"H0000001","kind":"reissue","detail":"damaged","validity_years":5,"target_card_id":"C00000001"}, ["detail","validity_years","target_card_id"]),
 "ActionIn": ({"version":3}, ["version"]),
 "ReturnIn": ({"version":2,"deficiencies":[{"field":"name_kana","problem":"全角カタカナではありません","action":"全角カタカナで入力してください"}]}, ["version"]),
 "RejectIn": ({"version":2,"reason":"対象外の職種です"}, ["version"]),
 "FulfilIn": ({"csr_pem":CSR}, None),
 "ShipIn": ({"method":"簡易書留","tracking_number":"1234-5678-9012"}, ["tracking_number"]),
 "ReceiptIn": ({"token_serial":"0123456789abcdef"}, None),
 "OutOfBandReceiptIn": ({"channel":"phone","note":"窓口 花子さんより電話"}, None),
 "HandoverIn": ({"handed_to":"看護 太郎","handed_over_at":"2026-12-01T09:00:00Z"}, ["handed_over_at"]),
 "LostInPostIn": ({"note":"追跡番号で不着を確認"}, None),
 "SoPinIn": ({"token_serial":"0123456789abcdef"}, None),
 "StationCsrIn": ({"csr_pem":CSR,"key":{"alg":"p256","local":True,"never_extractable":True,"sensitive":True}}, None),
 "StationCardIn": ({"card_id":"C00000001","serial_hex":"0a1b2c3d4e5f60718293a4b5c6d7e8f9","token_serial":"0123456789abcdef","revocation_code_hash":"c2FsdA$0123","summary":"personalized","mailer_file":"/var/lib/kmn/mailers/C00000001.pdf","mailer_sha256":"00"*32}, None),
 "AbortIn": ({"reason":"カードへの書き込みに失敗しました"}, None),
 "DoctorEnrolIn": ({"facility_code":"4310000001","certificate":"-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n"}, None),
 "DoctorConfirmIn": ({"given_by":"窓口 花子"}, ["given_by"]),
 "DoctorReasonIn": ({"reason":"医師が施設を離れたため"}, None),
 "DoctorEndIn": ({"ended_on":"2026-12-31","reason":"退職"}, None),
}
def w(t, name, data):
    d = os.path.join(root, t); os.makedirs(d, exist_ok=True)
    if isinstance(data, str): data = data.encode()
    open(os.path.join(d, name + ".json"), "wb").write(data)
def dumps(o): return json.dumps(o, ensure_ascii=False, indent=1)
for t, (valid, optional) in V.items():
    s = dumps(valid)
    w(t, "ok-valid", s)
    if optional:
        w(t, "ok-minimal", dumps({k: v for k, v in valid.items() if k not in optional}))
        w(t, "ok-optional-null", dumps({**valid, **{k: None for k in optional if not isinstance(valid[k], bool)}}) if any(not isinstance(valid[k], bool) for k in optional) else dumps(valid))
    w(t, "ok-ascii-escapes", json.dumps(valid, ensure_ascii=True))
    w(t, "ok-whitespace", " \t\r\n" + json.dumps(valid, separators=(",", ":")) + "\n\n ")
    # Syntax: 400 E_BAD_INPUT.
    w(t, "400-empty", "")
    w(t, "400-truncated-half", s.encode()[: len(s.encode()) // 2])
    w(t, "400-truncated-by-one", s.encode()[:-1])
    w(t, "400-trailing-garbage", s + "\n}")
    w(t, "400-two-objects", s + s)
    w(t, "400-byte-order-mark", b"\xef\xbb\xbf" + s.encode())
    str_fields = [k for k, v in valid.items() if isinstance(v, str)]
    num_fields = [k for k, v in valid.items() if isinstance(v, int) and not isinstance(v, bool)]
    if str_fields:
        f = str_fields[0]
        w(t, "400-invalid-utf8-in-string", s.encode().replace(json.dumps(valid[f], ensure_ascii=False).encode(), b'"\xff\xfe\xc3"', 1))
        w(t, "400-lone-surrogate", s.replace(json.dumps(valid[f], ensure_ascii=False), '"\\ud800"', 1))
        w(t, "400-bad-escape", s.replace(json.dumps(valid[f], ensure_ascii=False), '"\\x41"', 1))
        w(t, "400-control-character-in-string", s.replace(json.dumps(valid[f], ensure_ascii=False), '"a\tb"', 1))
        w(t, "400-single-quotes", s.replace(json.dumps(valid[f], ensure_ascii=False), "'" + "x" + "'", 1))
        w(t, "ok-nul-and-long-string", dumps({**valid, f: "\u0000" + "あ" * 1000}))
    num = [k for k, v in valid.items() if isinstance(v, int) and not isinstance(v, bool)]
    w(t, "400-nan", s.replace(f'"{num[0]}": {valid[num[0]]}', f'"{num[0]}": NaN', 1) if num else "NaN")
    w(t, "400-deep-nesting-array", "[" * 5000)
    w(t, "422-deep-nesting-object-unknown-field", '{"a":' * 2000)
    w(t, "400-not-json", "facility_code=4310000001&kind=new")
    # Data: 422 E_VALIDATION (a field named) or 400 when no field can be named.
    w(t, "422-unknown-field", dumps({**valid, "role": "supervisor"}))
    w(t, "422-unknown-field-deeply-nested-value", s[:-1] + ',"x":' + "[" * 2000 + "]" * 2000 + "}")
    if [k for k in valid if not optional or k not in optional]:
        w(t, "422-missing-field", "{}")
        req = [k for k in valid if not optional or k not in optional]
        w(t, "422-required-null", dumps({**valid, req[0]: None}))
    else:
        w(t, "ok-empty-object", "{}")
    if str_fields:
        w(t, "422-string-as-number", dumps({**valid, str_fields[0]: 12345}))
        w(t, "422-string-as-object", dumps({**valid, str_fields[-1]: {"$ne": ""}}))
        w(t, "422-string-as-array", dumps({**valid, str_fields[-1]: ["a", "b"]}))
    for f in num_fields:
        w(t, f"422-{f}-as-string", dumps({**valid, f: "3"}))
        w(t, f"422-{f}-beyond-i64", s.replace(f'"{f}": {valid[f]}', f'"{f}": 9223372036854775808', 1))
        w(t, f"422-{f}-negative-beyond-i64", s.replace(f'"{f}": {valid[f]}', f'"{f}": -9223372036854775809', 1))
        w(t, f"422-{f}-fraction", s.replace(f'"{f}": {valid[f]}', f'"{f}": 3.5', 1))
        w(t, f"400-{f}-exponent-overflow", s.replace(f'"{f}": {valid[f]}', f'"{f}": 1e400', 1))
        w(t, f"400-{f}-huge-integer-literal", s.replace(f'"{f}": {valid[f]}', f'"{f}": ' + "9" * 5000, 1))
        w(t, f"ok-{f}-extremes", s.replace(f'"{f}": {valid[f]}', f'"{f}": -9223372036854775808', 1))
    for f in [k for k, v in valid.items() if isinstance(v, bool)]:
        w(t, f"422-{f}-as-string", dumps({**valid, f: "true"}))
        w(t, f"422-{f}-as-number", dumps({**valid, f: 1}))
    w(t, "422-duplicate-field", s[:-1] + "," + s[1:-1].split(",\n")[0] + "}") if len(valid) > 0 else None
    w(t, "400-array-instead-of-object", "[]")
    w(t, "400-string-instead-of-object", '"' + t + '"')
    w(t, "400-null", "null")
# nested
w("ReturnIn", "422-deficiency-unknown-field", dumps({"version": 1, "deficiencies": [{"field": "a", "problem": "b", "action": "c", "severity": 9}]}))
w("ReturnIn", "422-deficiencies-not-a-list", dumps({"version": 1, "deficiencies": {"field": "a"}}))
w("ReturnIn", "ok-two-hundred-deficiencies", dumps({"version": 1, "deficiencies": [{"field": "a", "problem": "b", "action": "c"}] * 200}))
w("StationCsrIn", "422-key-unknown-field", dumps({"csr_pem": CSR, "key": {"alg": "p256", "local": True, "never_extractable": True, "sensitive": True, "extractable": False}}))
w("StationCsrIn", "422-key-as-string", dumps({"csr_pem": CSR, "key": "p256"}))
w("StationCsrIn", "422-key-missing-field", dumps({"csr_pem": CSR, "key": {"alg": "p256"}}))
