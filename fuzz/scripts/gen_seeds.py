#!/usr/bin/env python3
"""Write the seed corpora under fuzz/seeds/<target>/ from the vendors' example payloads
(the shared seeds, as copied verbatim into crates/ssoflow-core/tests/fixtures/seeds and, re-indented,
into crates/ssoflow-sandbox/tests/fixtures) and a few hand-written edge cases.

Run from the repository root: python3 fuzz/scripts/gen_seeds.py
"""
import hashlib
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "fuzz" / "seeds"
FIX = ROOT / "crates" / "ssoflow-core" / "tests" / "fixtures" / "seeds"
SANDBOX_FIX = ROOT / "crates" / "ssoflow-sandbox" / "tests" / "fixtures"
SEP = b"\n==>\n"


def fixture(name):
    for d in (FIX, SANDBOX_FIX):
        p = d / name
        if p.exists():
            return p.read_bytes()
    raise SystemExit(f"missing fixture {name}")


def rec(status, body, flags="", headers=()):
    head = f"{status}{(' ' + flags) if flags else ''}\n".encode()
    for k, v in headers:
        head += f"{k}: {v}\n".encode()
    return head + b"\n" + body


def recs(*rs):
    return SEP.join(rs)


def write(target, items):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.iterdir():
        old.unlink()
    for data in items:
        name = hashlib.sha1(data).hexdigest()[:16]
        (d / name).write_bytes(data)


JSON = [("Content-Type", "application/json")]

TOKEN = b'{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","scope":"a b"}'
TOKEN_QUIRKY = b'{"access_token":"at-\\u0041BC","expires_in":"60","scope":null,"refresh_token":null,"x":[1,{"y":[true,false,null]}],"n":-1.5e3}'
OAUTH_ERR = b'{"error":"invalid_grant","error_description":"bad \\"code\\" \\ud83d\\ude00","error_uri":"https://x"}'
PROVIDER_ERR = b'{"errors":{"base":["Invalid security token"]}}'
ERR_IN_200 = b'{"error":"invalid_client","access_token":"leaked-SECRET-value"}'
DEEP = b'{"x":' + b"[" * 40 + b"]" * 40 + b',"access_token":"a"}'
PAR_M2M = fixture("000_m2m_response.json")
PAR_SIGN_IN = fixture("000_sign_in_response.json")
PAR_SIGN_IN_DLC = fixture("000_sign_in_response_dlc.json")
PAR_DENIED = b'{"status":"ERROR","code":401,"message":"Unauthenticated"}'
PAR_M2M_ZERO = b'{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"m2m","token_type":"bearer","expires_in":0}}}'
PUNCHH_SSO = fixture("001_sso_response.json")
PUNCHH_TOKEN = fixture("002_oauth_token_response.json")
STREAM_GEN = fixture("stream_generate_session.json")
STREAM_SESSION = b'{"session":"sess-123","user":{"email":"sarah.manager@restaurantchain.com","full_name":"Sarah Johnson","role":"manager"},"organization":{"id":"5b0b2b0e","provider_org_id":"restaurant_chain_abc_123"}}'
STREAM_REDEEMED = b'{"error":"sso_token_redeemed","error_description":"the SSO login token was already used"}'
POS_TOKEN = b'{"access_token":"5b0b2b0e-9a52-4b6e-9d7e-3f7f3c1c2a10","expires_in":3600,"refresh_token":"r-5b0b2b0e","token_type":"Bearer"}'
POS_ACCOUNT = b'{"id":"5b0b2b0e-9a52-4b6e-9d7e-3f7f3c1c2a10","user_name":"admin"}'
POS_CONFLICT = b'{"error":"conflict","message":"user_name taken"}'
PUNCHH_USER = b'{"id":111111111,"email":"test@example.com","first_name":"Zo\\u00eb","last_name":null,"phone":"+15551234567","authentication_token":"AUTH-token-1","extra":{"a":[1,2,3]}}'

write("oauth2_token", [
    rec(200, TOKEN), rec(201, TOKEN_QUIRKY), rec(200, TOKEN_QUIRKY, "T31"), rec(200, ERR_IN_200),
    rec(400, OAUTH_ERR), rec(500, b"<html>oops</html>"), rec(200, DEEP), rec(200, PUNCHH_TOKEN),
    rec(200, POS_TOKEN, headers=JSON), rec(200, b'{"access_token":"a b","token_type":"bearer"}'),
])
write("oauth2_error", [
    rec(400, OAUTH_ERR), rec(401, b'{"error":"invalid_client"}'), rec(400, PROVIDER_ERR),
    rec(500, b"<html>busy</html>"), rec(409, POS_CONFLICT), rec(200, ERR_IN_200), rec(400, STREAM_REDEEMED),
    rec(400, b'{"error":"x","message":"m","code":"auth-CODE-SECRET1","token":"tok-SECRET-2"}'),
])
write("callback", [
    b"abcSTATE\xffhttps://app.example/cb?code=Spl%2BxOi-CODE1&state=abcSTATE",
    b"abcSTATE\xff/cb?code=a&code=b-CODE-dup&state=abcSTATE",
    b"y\xff/cb?error=access_denied&error_description=User+said+no&state=y",
    b"y\xff/cb?state=y&code=&x=1#frag",
    b"st%C3%A9\xff/cb?code=%E2%82%AC&state=st%25C3%25A9",
    b"\xff/cb?code=a&state=",
])
write("par_envelope_m2m", [
    rec(200, PAR_M2M), rec(401, PAR_DENIED), rec(200, PAR_M2M_ZERO),
    rec(200, b'{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"x","token_type":"mac"}}}'),
    rec(200, b'{"status":"ERROR","code":422,"message":"invalid"}'), rec(200, b'{"status":"OK"}'),
])
write("par_sign_in", [
    b"\x00" + recs(rec(200, PAR_M2M), rec(200, PAR_SIGN_IN)),
    b"\x01" + recs(rec(200, PAR_SIGN_IN_DLC)),
    b"\x01" + recs(rec(401, PAR_DENIED), rec(200, PAR_M2M), rec(200, PAR_SIGN_IN)),
    b"\x01" + recs(rec(401, PAR_DENIED), rec(200, PAR_M2M), rec(401, PAR_DENIED)),
    b"\x0b" + recs(rec(200, PAR_M2M, "T10"), rec(200, PAR_SIGN_IN)),
    b"\x00" + recs(rec(200, PAR_M2M_ZERO), rec(200, PAR_M2M_ZERO), rec(200, PAR_SIGN_IN)),
    b"\x00" + recs(rec(200, PAR_M2M, "P"), rec(200, PAR_SIGN_IN, "H")),
    b"\x00" + recs(rec(200, PAR_M2M, "B40"), rec(200, PAR_SIGN_IN, "B300")),
])
write("customer_info_request", [
    b'{"customer_account_uuid": "1df3d3b3-d2b6-4126-93f2-1fdbd419268b"}\xffJohn\xffDoe\xffjohn.doe@mail.com\xff+23533674523\xff\x80',
    b'{"customer_account_uuid":"x","extra":[{}]}\xffZo\xc3\xab "Z"\xff\\\n\x01\xffe@x\xff+1\xff\x02',
    b'{"customer_account_uuid":"x"}\xffunknown\xffa\xffb\xffc',
    b'{"customer_account_uuid":""}\xffa\xffb\xffc\xffd', b"{\xffa", b'{"customer_account_uuid":"\\ud83d\\ude00"}\xff\xf0\x9f\x98\x80\xffb\xffc\xffd',
])
write("test_subject", [
    b"test-1100-jane.doe@partech.com-Jane-Doe-+41767567126",
    b"test-7-mary-ann.lee@ex-ample.com-Mary-Lee-+1555", b"opaque-token", b"test-1-a-b", b"test--@-a-b-c",
])
write("punchh_sso", [
    rec(200, PUNCHH_SSO), rec(412, b'{"errors":{"base":["Invalid signature"]}}'), rec(400, PROVIDER_ERR),
    rec(401, b'{"error":"invalid_client"}'), rec(200, b'{"error":"x"}'), rec(201, PUNCHH_SSO),
])
write("punchh_code_token", [
    rec(200, PUNCHH_TOKEN), rec(412, b""), rec(400, OAUTH_ERR), rec(200, TOKEN), rec(201, TOKEN_QUIRKY),
])
write("punchh_user", [
    rec(200, PUNCHH_USER), rec(200, b'{"id":1}'), rec(412, b""), rec(401, b'{"error":"invalid_token"}'),
    rec(200, b'{"id":"1","email":"x"}'),
])
write("stream", [
    recs(rec(200, STREAM_GEN), rec(200, STREAM_SESSION)),
    recs(rec(200, b'{"sso_login_token":"a%b+c&d=e\\u00e9"}'), rec(410, b'{"code":"sso_token_redeemed"}')),
    recs(rec(200, STREAM_REDEEMED), rec(400, STREAM_REDEEMED)),
    recs(rec(201, TOKEN), rec(200, b'{"session":"s","user":{"email":"e","role":"chef"},"organization":{"id":"o","provider_org_id":"p"},"user":{}}')),
])
write("pos", [
    rec(201, POS_TOKEN), rec(201, POS_ACCOUNT), rec(200, POS_TOKEN), rec(409, POS_CONFLICT),
    rec(201, b'{"access_token":"a","token_type":"Bearer","expires_in":60}'), rec(201, b'{"id":42,"user_name":"x"}'),
    rec(401, b'{"error":"unauthorized","message":"expired"}'),
])

HTTP_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n" + b'{"access_token":"a","x":1}\n'
HTTP_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
HTTP_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
HTTP_CLOSE = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close"
HTTP_PIPELINED = b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
HTTP_BOTH = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n"
write("http_response", [b"\x40" + HTTP_OK, b"\x83" + HTTP_CHUNKED, b"\x7f" + HTTP_CONTINUE, b"\x20" + HTTP_CLOSE,
                        b"\x50" + HTTP_PIPELINED, b"\x8f" + HTTP_BOTH, b"\x05HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"])
write("chunked", [b"\x00" + b"5\r\nhello\r\n0\r\n\r\n", b"\x31" + b"3;a=b\nabc\n0\nT: 1\n\nleft", b"\x02" + b"A \t\r\n0123456789\r\n0\r\n\r\n",
                  b"\x10" + b"ffffffffffffffffff\r\n", b"\x00" + b"1\r\na\rX"])

def wire(status, body, extra=b""):
    return b"HTTP/1.1 " + str(status).encode() + b" X\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body

API_TOKEN = b'{"access_token":"api-token","token_type":"Bearer","expires_in":3600}'
write("embedded_driver", [
    b"\x00" + wire(200, API_TOKEN) + wire(401, b"") + wire(200, API_TOKEN) + wire(401, b""),
    b"\x01" + wire(200, API_TOKEN) + wire(200, b'{"me":1}'),
    b"\x00" + wire(200, PAR_M2M) + wire(200, PAR_SIGN_IN),
    b"\x05" + wire(200, PAR_M2M) + wire(401, PAR_DENIED) + wire(200, PAR_M2M) + wire(200, PAR_SIGN_IN_DLC),
    b"\x41" + wire(200, PAR_M2M, b"Connection: close\r\n") + wire(200, PAR_SIGN_IN),
    b"\x02" + wire(200, PAR_M2M_ZERO) + wire(200, PAR_M2M_ZERO) + wire(200, PAR_SIGN_IN),
])

# driver: the first byte picks the flow (see fuzz_targets/driver.rs): 0-4 OAuth grants, 5-9 the
# same STRICT, 10 PAR M2M, 11-13 PAR sign-in (no/unknown-expiry/expiring cached M2M token),
# 14-16 Punchh, 17-19 Stream, 20-22 POS, 23 the session model.
OAUTH_RECS = recs(rec(200, TOKEN), rec(200, TOKEN_QUIRKY), rec(400, OAUTH_ERR))
PAR_RECS = recs(rec(200, PAR_M2M), rec(401, PAR_DENIED, "T5"), rec(200, PAR_M2M), rec(200, PAR_SIGN_IN))
SESSION_RECS = [
    recs(rec(0, b"", "T5"), rec(200, TOKEN, "a"), rec(200, b"", "b"), rec(401, b"", "a"), rec(200, TOKEN, "a"), rec(401, b"", "b"), rec(401, b"", "b T4000")),
    recs(rec(0, b"", "T10"), rec(200, b'{"access_token":"a","expires_in":5}', "a"), rec(200, b"", "a T3"), rec(200, b"", "b T3"), rec(200, TOKEN, "b"), rec(200, b"", "c X")),
]
all_driver = (
    [bytes([n]) + OAUTH_RECS for n in range(10)]
    + [bytes([n]) + PAR_RECS for n in (10, 11, 12, 13)]
    + [bytes([n]) + recs(rec(200, PAR_M2M_ZERO), rec(200, PAR_M2M_ZERO), rec(200, PAR_M2M_ZERO), rec(200, PAR_SIGN_IN)) for n in (11, 13)]
    + [bytes([n]) + recs(rec(200, PUNCHH_SSO, "P"), rec(200, PUNCHH_USER, "H")) for n in (14, 15, 16)]
    + [bytes([n]) + recs(rec(200, STREAM_GEN), rec(200, STREAM_SESSION)) for n in (17, 18, 19)]
    + [bytes([n]) + recs(rec(201, POS_TOKEN, "B20"), rec(201, POS_ACCOUNT)) for n in (20, 21, 22)]
    + [bytes([23]) + r for r in SESSION_RECS]
)
write("driver", all_driver)

# device: record 0 answers the device authorization request (RFC 8628 §3.2's example, quirks,
# bad intervals), records 1.. the polls (§3.5 errors, a slow_down storm, a 200 without a token).
DEVICE_RFC = (b'{"device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS","user_code":"WDJB-MJHT",'
              b'"verification_uri":"https://example.com/device","verification_uri_complete":'
              b'"https://example.com/device?user_code=WDJB-MJHT","expires_in":1800,"interval":5}')
DEVICE_SHORT = b'{"device_code":"dc-SECRET-42","user_code":"U-1","verification_uri":"https://v.example/d","expires_in":30}'
PENDING = b'{"error":"authorization_pending"}'
SLOW = b'{"error":"slow_down","error_description":"easy"}'
write("device", [
    recs(rec(200, DEVICE_RFC), rec(400, PENDING), rec(400, SLOW), rec(400, PENDING, "T2"), rec(200, TOKEN)),
    recs(rec(200, DEVICE_RFC), rec(400, b'{"error":"access_denied"}')),
    recs(rec(200, DEVICE_RFC), rec(400, b'{"error":"expired_token"}')),
    recs(rec(200, DEVICE_SHORT), *[rec(400, SLOW)] * 8),
    recs(rec(200, DEVICE_SHORT), *[rec(400, PENDING)] * 40),
    recs(rec(200, DEVICE_SHORT), rec(503, b"busy", headers=[("Retry-After", "7")]), rec(200, b'{"token_type":"Bearer"}')),
    recs(rec(200, DEVICE_SHORT.replace(b'"expires_in":30', b'"expires_in":30,"interval":0')), rec(200, ERR_IN_200), rec(200, TOKEN, "H")),
    rec(200, DEVICE_SHORT.replace(b'"expires_in":30', b'"expires_in":"30","interval":-5')),
    rec(200, DEVICE_SHORT.replace(b'"expires_in":30', b'"interval":5')),
    rec(200, DEVICE_SHORT.replace(b'"U-1"', b'"U\\u001b[2J"')),
    rec(400, OAUTH_ERR),
])

write("url_form", [
    b"http://127.0.0.1:8080/x\xffp@ss w/rd+\xc3\xa9 *-._~", b"https://a.example?x=1\xff", b"http://[::1]evil.com/\xff%zz",
    b"http://localhost\\evil.com/\xff%C3", b"HTTP://127.9.0.1#@evil.example\xffa+b", b"http://user@127.0.0.1/\xff",
])

write("http_request", [
    b'https://api.example\xff/me?a=b\xffhello world\xfftok-123\xff{"x":"\\u00e9"}\xff...',
    b"http://127.0.0.1:8080/base/\xff/p\xff\t v \xff\xff\xff",
    b"https://h\xff/x\xffa\r\nInjected: 1\xffb\r\n\r\nGET / HTTP/1.1\xffbody\xff.",
])

json_bodies = [TOKEN, TOKEN_QUIRKY, OAUTH_ERR, DEEP, PAR_M2M, PAR_SIGN_IN, PAR_SIGN_IN_DLC, PUNCHH_SSO, PUNCHH_TOKEN,
               PUNCHH_USER, STREAM_SESSION, POS_TOKEN, b'{"a":"\\ud83d\\ude00","b":[1,-2.5e+3,{"c":"\\u00e9"}],"d":{"e":{"f":null}},"g":true}',
               b'"\\ud800"', b'{"' + b"k" * 50 + b'":"long name"}', b"  -0 ", b'{"a":1,"a":"dup"}']
write("json_parser", json_bodies)
print("seeds written to", OUT)
