# attempt echo and reply model_version for broker-made replies. Run: /work/main/.venv/bin/python /tmp/try1/t19_echo.py
import sys; sys.path.insert(0, "/tmp/try1")
from rp import *
S = client(8000)
show("STATUS attempt 7", [ask([hdr(STATUS, 1, attempt=7)], S)[0]])
show("CANCEL attempt 7", ask([hdr(CANCEL, 2, attempt=7), struct.pack("<Q", 5)], S))
for op in [b'{"op":"online"}', b'{"op":"online_policy"}', b'{"op":"online_policy","version":1}', b'{"op":"jobs"}',
           b'{"op":"online_freeze"}', b'{"op":"online_unfreeze"}', b'{"op":"impressions","limit":1}', b'{"op":"models"}']:
    r = ask([hdr(CONTROL, 3, attempt=7), op], S)
    h = parse(r[0]); print("%-40s %s att=%s mv=%s frames=%d" % (op.decode(), h["sname"], h["attempt"], h["mv"], len(r)))
show("FEEDBACK attempt 7 (bad)", ask([hdr(FEEDBACK, 4, attempt=7), b'{}'], S))
show("SCORE attempt 7", ask([hdr(SCORE, 5, attempt=7), tensor([[0.1, 0.2, 0.3]])], S))
show("SCORE expired attempt 7", ask([hdr(SCORE, 6, attempt=7, deadline=1), tensor([[0.1, 0.2, 0.3]])], S))
show("SCORE bad flags attempt 7", ask([hdr(SCORE, 7, attempt=7, flags=8), tensor([[0.1, 0.2, 0.3]])], S))
