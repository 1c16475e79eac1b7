#!/usr/bin/env python
"""A stand-in for the Azure CLI's ``az account get-access-token`` (what azure-identity's AzureCliCredential runs).

It gets a real token from the emulator with the client credentials named in the JSON file $AZ_STANDIN_CONFIG
(``token_url``, ``client_id``, ``client_secret``, ``ca_path``, ``tenant_id``, ``log``), prints the JSON the
Azure CLI prints, and appends its argument list to ``log`` (one JSON line per call) so the test can check what
azure-identity asked for. Anything but ``account get-access-token`` fails like an unknown az command.
"""
import datetime
import json
import os
import ssl
import sys
import urllib.parse
import urllib.request


def main(argv):
    with open(os.environ["AZ_STANDIN_CONFIG"], encoding="utf-8") as handle:
        config = json.load(handle)
    with open(config["log"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps(argv) + "\n")
    if argv[:2] != ["account", "get-access-token"] or "--resource" not in argv:
        sys.stderr.write("ERROR: 'az %s' is not supported by this stand-in\n" % " ".join(argv))
        return 2
    resource = argv[argv.index("--resource") + 1]
    tenant = argv[argv.index("--tenant") + 1] if "--tenant" in argv else config["tenant_id"]
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": config["client_id"],
                                   "client_secret": config["client_secret"],
                                   "scope": resource.rstrip("/") + "/.default"}).encode("ascii")
    url = config["token_url"].replace("{tenant}", tenant)
    context = ssl.create_default_context(cafile=config["ca_path"])
    try:
        with urllib.request.urlopen(url, data=form, context=context, timeout=30) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        sys.stderr.write("ERROR: AADSTS from the emulator: %s\n" % json.load(exc).get("error_description", ""))
        return 1
    expires_on = int(datetime.datetime.now().timestamp()) + int(body["expires_in"])
    json.dump({"accessToken": body["access_token"],
               "expiresOn": datetime.datetime.fromtimestamp(expires_on).strftime("%Y-%m-%d %H:%M:%S.000000"),
               "expires_on": expires_on, "subscription": "00000000-0000-0000-0000-000000000000",
               "tenant": tenant, "tokenType": "Bearer"}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
