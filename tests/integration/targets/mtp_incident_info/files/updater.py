# Copyright (c) m365.defender contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Update emulator incidents through its control plane until STOP_FILE exists (at most 120 s).

usage: updater.py CONTROL_URL CA_PATH FIRST_ID LAST_ID STOP_FILE STARTED_FILE
Writes STARTED_FILE after the first update; prints the number of updates made.
"""

import json
import os
import ssl
import sys
import time
import urllib.request


def main():
    control, ca, first, last, stop, started = sys.argv[1:7]
    ctx = ssl.create_default_context(cafile=ca)
    ids = list(range(int(first), int(last) + 1))
    done, k, deadline = 0, 0, time.time() + 120
    statuses = ["inProgress", "active"]
    while not os.path.exists(stop) and time.time() < deadline:
        incident = ids[(k * 37) % len(ids)]
        body = json.dumps({"status": statuses[k % 2]}).encode()
        req = urllib.request.Request("%s/incidents/%d" % (control, incident), data=body, method="PATCH",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx) as resp:
            resp.read()
        done += 1
        k += 1
        if done == 1:
            with open(started, "w") as fh:
                fh.write("1")
        time.sleep(0.02)
    print(done)


if __name__ == "__main__":
    main()
