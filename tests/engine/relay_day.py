"""A mail relay's day as a log (Exim's main log, no levels), for the tests of a log's background and of questions
about its incidents in general: the monitor's TLS probe fails every sixth line all day (the background), the virus
scanner is down for a burst of five deferrals (a probe failure among them, lines 11-16), the mailbox server refuses
connections after lunch (lines 51-53) and the spool disk fills in the evening (line 81)."""

from __future__ import annotations

from worker.documents.document import Document


def relay_day() -> Document:
    lines = []
    for n in range(96):
        minute = n * 15
        stamp = f"2024-11-05 {minute // 60:02d}:{minute % 60:02d}:05"
        if n % 6 == 3:
            lines.append(f"{stamp} TLS error on connection from mon01 [10.12.0.9] (SSL_accept): "
                         "error:0A000126:SSL routines::unexpected eof while reading")
        elif 10 <= n < 16:
            lines.append(f"{stamp} 1t88a{n} malware acl condition: clamd: unable to connect to UNIX socket "
                         "(/var/run/clamav/clamd.ctl): No such file or directory")
        elif 50 <= n < 53:
            lines.append(f"{stamp} 1t8Ii{n} H=mbox1.int [10.12.4.21] Connection refused")
        elif n == 80:
            lines.append(f"{stamp} 1t8Q{n} Error in spool: write failed: No space left on device")
        else:
            lines.append(f"{stamp} Start queue run: pid={2000 + n}")
    return Document("file:exim-mx2.log", "exim-mx2.log", "\n".join(lines) + "\n", kind="log", link="exim-mx2.log")
