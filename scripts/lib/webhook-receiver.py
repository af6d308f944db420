#!/usr/bin/env python3
"""A local receiver of the proxy's quota-event webhooks, for the e2e scripts.

  webhook-receiver.py serve PORT LOG [FAIL_FIRST]
      Listens on 127.0.0.1:PORT; each POST is appended to LOG as one JSON line
      {"path", "headers", "body", "answered"}. The first FAIL_FIRST requests (default 0)
      are answered 503, so the proxy's retry is seen too; the rest 204.

  webhook-receiver.py check LOG SECRET TYPE SCOPE
      Exit 0 if LOG holds a request answered 204 whose body is an event of TYPE about
      SCOPE with a valid X-Quota-Signature (sha256= hex HMAC-SHA256, keyed by SECRET, of
      X-Quota-Timestamp, '.', and the body); prints that body. Exit 1 otherwise.
"""
import hashlib
import hmac
import http.server
import json
import sys
import threading


def serve(port, log, fail_first):
    lock = threading.Lock()
    seen = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                seen[0] += 1
                status = 503 if seen[0] <= fail_first else 204
                with open(log, "a") as out:
                    out.write(json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                                          "body": body.decode("utf-8"), "answered": status}) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def check(log, secret, kind, scope):
    try:
        lines = open(log).read().splitlines()
    except FileNotFoundError:
        return 1
    for line in lines:
        request = json.loads(line)
        headers = {k.lower(): v for k, v in request["headers"].items()}
        body = request["body"]
        event = json.loads(body)
        if request["answered"] != 204 or event.get("type") != kind or event.get("scope") != scope:
            continue
        signed = (headers.get("x-quota-timestamp", "") + ".").encode() + body.encode("utf-8")
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, headers.get("x-quota-signature", "")) \
                and headers.get("x-quota-event-id") == event.get("id") \
                and headers.get("x-quota-event-type") == kind:
            print(body)
            return 0
    return 1


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
    else:
        sys.exit("usage: webhook-receiver.py serve PORT LOG [FAIL_FIRST] | check LOG SECRET TYPE SCOPE")
