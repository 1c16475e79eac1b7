#!/usr/bin/env python
"""Background approver for device code sign-ins: stands in for the user who types the code in a browser.

Usage: approve_device_code.py CONTROL_URL CA_PATH UPN COUNT TIMEOUT. Polls CONTROL_URL/devicecode/pending and
approves each pending code as UPN until COUNT codes were approved (exit 0) or TIMEOUT seconds passed (exit 1).
Prints JSON {"approved": [{"user_code", "client_id", "scope"}...]}.
"""
import json
import ssl
import sys
import time
import urllib.request


def call(url, context, body=None):
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.load(response)


def main(control, ca_path, upn, count, timeout):
    context = ssl.create_default_context(cafile=ca_path)
    approved = []
    deadline = time.time() + float(timeout)
    while len(approved) < int(count) and time.time() < deadline:
        for item in call(control + "/devicecode/pending", context)["value"]:
            call(control + "/devicecode/approve", context, {"user_code": item["user_code"], "upn": upn})
            approved.append({"user_code": item["user_code"], "client_id": item["client_id"],
                             "scope": item.get("scope")})
        time.sleep(0.3)
    json.dump({"approved": approved}, sys.stdout)
    return 0 if len(approved) >= int(count) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
