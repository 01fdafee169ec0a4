"""A webhook receiver for the tests: verifies every delivery with the Standard Webhooks
reference verifier (the `standardwebhooks` package) and records what it saw.

Usage: python3 webhook_receiver.py SECRET [PATH=BEHAVIOUR ...]
  BEHAVIOUR is `ok`, `fail:N` (answer 500 to the first N deliveries, then 200), `down`
  (answer 503 until `POST /control/up?path=PATH`) or `held` (log each delivery at once but
  answer 503 only after `POST /control/release?path=PATH`, or after 60 s).
Binds 127.0.0.1 on a free port and prints `LISTENING <port>` once it accepts connections.
`GET /log` returns every request received on a delivery path, in order, as JSON.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from standardwebhooks import Webhook

# A delivery carries one upload: small. A bigger body is refused unread.
MAX_BODY = 1024 * 1024

secret = sys.argv[1]
verifier = Webhook(secret)
behaviours = dict(arg.split("=", 1) for arg in sys.argv[2:])
answered = {path: 0 for path in behaviours}
log = []
lock = threading.Lock()
released = {path: threading.Event() for path in behaviours}
# A held delivery is answered after this long even if nobody releases it.
HOLD_AT_MOST_SECS = 60


def answer_for(path):
    """The status this path answers with now (counting the answer)."""
    behaviour = behaviours[path]
    answered[path] += 1
    if behaviour == "ok":
        return 200
    if behaviour in ("down", "held"):
        return 503
    failures = int(behaviour.split(":", 1)[1])
    return 500 if answered[path] <= failures else 200


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b""):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/log":
            with lock:
                body = json.dumps(log).encode()
            self.reply(200, body)
        else:
            self.reply(404)

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self.reply(413)
            return
        body = self.rfile.read(length)
        if url.path == "/control/up":
            with lock:
                behaviours[parse_qs(url.query)["path"][0]] = "ok"
            self.reply(204)
            return
        if url.path == "/control/release":
            released[parse_qs(url.query)["path"][0]].set()
            self.reply(204)
            return
        if url.path not in behaviours:
            self.reply(404)
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            payload = verifier.verify(body, headers)
            verified, error = True, None
        except Exception as err:  # noqa: BLE001 - every refusal is recorded, whatever its kind
            payload, verified, error = None, False, f"{type(err).__name__}: {err}"
        with lock:
            status = answer_for(url.path) if verified else 400
            log.append(
                {
                    "path": url.path,
                    "status": status,
                    "verified": verified,
                    "error": error,
                    "headers": {
                        name: headers.get(name)
                        for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")
                    },
                    "body": body.decode("utf-8", "replace"),
                    "payload": payload,
                }
            )
            held = behaviours[url.path] == "held"
        if held:
            released[url.path].wait(HOLD_AT_MOST_SECS)
        self.reply(status)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"LISTENING {server.server_address[1]}", flush=True)
server.serve_forever()
