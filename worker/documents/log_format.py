"""What log lines look like: timestamps, severities, stack-trace lines, and whether a file is a log."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import IntEnum

# IBM Db2's db2diag.log: the date, then the time with dots, microseconds and the offset in minutes
# ("2024-03-14-04.12.33.456167+060")
_DB2_TIME = r"\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d{6}(?:[+-]\d{3})?"
TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"  # ISO 8601 / Python logging
    r"|\b" + _DB2_TIME +
    r"|\b\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"  # nginx: "2026/04/21 03:31:06"
    r"|\b(?:\d{4}-\d{2}-\d{2}|\d{6}) +\d{1,2}:\d{2}:\d{2}\b"  # MySQL, MariaDB: "2026-04-15  3:51:37", "260415  3:51:37"
    r"|\b[A-Z][a-z]{2} [ \d]\d(?: \d{4})? \d{2}:\d{2}:\d{2}(?:\.\d+)?"  # syslog: "May  1 10:00:01", Cisco ASA's
    # "May 14 2024 08:31:42"
    r"|\b\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"  # access log: "01/May/2024:10:00:01 +0000"
    r"|\b\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?"  # Redis: "02 Apr 2026 01:47:12.330"
    # Tomcat, PHP-FPM: "03-Jun-2024 03:12:45.123"; Erlang: "3-Jun-2024::03:12:45"
    r"|\b\d{1,2}-[A-Z][a-z]{2}-\d{4}(?: |::)\d{2}:\d{2}:\d{2}(?:\.\d+)?"
    r"|\b\d{2}:\d{2}:\d{2}[.,]\d{3,9}\b"  # time only with millis or micros (klog: "03:17:26.817985")
    r"|(?<=\d:)\d{8}:\d{6}\.\d{3}\b"  # Zabbix, after the process id: "1202:20250311:013412.004"
    # Unix epoch seconds (UTC): Nagios "[1733185801] HOST ALERT: ...", squid's native access log
    # "1733185801.123    241 10.0.0.7 TCP_MISS/200 ...", zap's JSON "ts":1733185801.1234; and milliseconds, pino's
    # JSON "time":1732011074464
    r"|(?<=^\[)\d{10}(?=\])|^\d{10}\.\d{3}(?=\s)|(?<=\"ts\":)\d{10}\.\d+|(?<=\"time\":)\d{13}(?!\d)"
    r"|(?<=\bdate=)\d{4}-\d{2}-\d{2} time=\d{2}:\d{2}:\d{2}\b"  # key=value firewalls: "date=2024-09-17 time=01:47:14"
    # the US date and a 12-hour clock: Windows' Event Viewer as CSV ("Warning,3/12/2024 10:03:17 PM,DistributedCOM,...")
    r"|\b\d{1,2}/\d{1,2}/\d{4},? \d{1,2}:\d{2}:\d{2}(?: ?[AP]M\b)?"
)
# Windows' Event Viewer levels, which its CSV export writes first ("Error,3/13/2024 3:41:07 AM,Application Error,...")
_EVENT_LEVELS = r"(?:Information|Warning|Error|Critical|Verbose|Audit Success|Audit Failure)"
# Where a line's timestamp may start: after Redis's "1:S ", klog's "E0514 ", Zabbix's "  1202:", logfmt's "time=",
# JSON's {"ts":", Apache's "[Mon " (a weekday before the date), a syslog priority and "date=" ("<188>date="), an Event
# Viewer level and its comma ("Warning,"), or a bracket
_LEADING_TIMESTAMP = re.compile(r"^(?:\d+:[XCSM] |[IWEF]\d{4}(?:\d\d)? (?=\d\d:)|\s*\d+:(?=\d{8}:\d{6}\.)"
                                r"|(?:<\d{1,3}>)?date="
                                r"|" + _EVENT_LEVELS + r","
                                r"|\{?\"?(?:time|ts|timestamp|@timestamp|t)\"?[=:]\s*\"?)?"
                                r"\W{0,2}(?:[A-Z][a-z]{2} )?(?:" + TIMESTAMP.pattern + r")")

# Kubernetes' klog ("E0514 03:17:26.817985    1893 pod_workers.go:1298] ..."), CockroachDB's crdb-v1/v2 with the
# year ("W231114 14:06:31.924523 388 3@storage/pebble.go:1110 ⋮ [T1,n3] 229  disk slowness detected") and Android's
# logcat ("03-17 16:13:38.811  1702  2395 E Tag: ..." or "E/Tag( 1702): ..."): the level is one letter
_KLOG = r"\b[{levels}]\d{{4}}(?:\d{{2}})? \d{{2}}:\d{{2}}:\d{{2}}\.\d+\s+\d+ [\w./@-]+:\d+(?:\]|\s)"
# Gitea and other Go services that name the function before a one-letter level ("...rvices/lfs/server.go:339:
# UploadHandler() [E] Error putting LFS MetaObject")
_FUNCTION_LEVEL = r"\(\) \[[{levels}]\] "
# CockroachDB's structured events, logged at I: an event whose type says it failed ("EventType":
# "client_authentication_failed")
_FAILED_EVENT = r"\"EventType\":\s*\"\w+_failed\""
# Icinga 2 ("[2024-05-21 14:04:02 +0200] critical/IdoMysqlConnection: ..."): the level, a slash and the component
_SLASH_LEVEL = r"^\[[\d\-T :.+]+\] (?:{levels})/[\w-]+: "
# Redis ("1:S 02 Apr 2026 01:47:12.330 # Connection with master lost."): after the time, "#" for its warnings
# (its most severe level), "*" notice, "-" verbose, "." debug
_REDIS = r"^\d+:[XCSM] \d{{1,2}} [A-Z][a-z]{{2}} \d{{4}} \d{{2}}:\d{{2}}:\d{{2}}\.\d+ [{levels}] "
# pino and bunyan (Node.js JSON lines) write the level as a number: 10 trace ... 30 info, 40 warn, 50 error, 60 fatal
_NUMERIC = r"\"level\":\s*(?:{levels})\b"
_LOGCAT = r"^\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}\.\d+\s+\d+\s+\d+ [{levels}] |^[{levels}]/[^(\s]+\(\s*\d+\):"
_LEVEL_KEY = r"\b(?:level|lvl|severity|loglevel|levelname)[\"']?[=:][ \t]*[\"']?"  # level=, "severity": "
# an access log's quoted request ("GET /pay HTTP/1.1"), and the request with the status after it (combined format):
# "GET /pay HTTP/1.1" 502
QUOTED_REQUEST = r"\"[A-Z]{3,7} [^\"]* HTTP/[\d.]+\""
ACCESS_REQUEST = QUOTED_REQUEST + " "
# HAProxy's HTTP log: the five timers (Tq/Tw/Tc/Tr/Ta, -1 when not reached) then the status, before the request
HAPROXY_TIMERS = r"\s(?:-?\d+/){4}\+?-?\d+ "
# Ceph's daemons ("2024-11-05T01:52:09.317+0000 7f3a35812700 -1 osd.14 4519 heartbeat_check: no reply from ..."): after
# the time and the thread id, the message's level, -1 for an error, 0 to 20 for the rest (also in the dump of recent
# events a crash prints: "   -2> 2024-11-05T04:12:22.829+0000 7f3a2f00a700 -1 bdev(...) ...")
_CEPH = r"^(?:\s*-?\d+> )?\d{{4}}-\d{{2}}-\d{{2}}T[\d:.]+[+-]\d{{4}} [0-9a-f]{{12,16}} +(?:{levels}) "
# a record's first line, with the record's level at its end (Db2: "2024-03-14-04.12.33.456167+060 I24120E1728
# LEVEL: Severe"), its fields and their values on the lines after it, to a blank line
_RECORD_LEVEL = r"^" + _DB2_TIME.replace("{", "{{").replace("}", "}}") + r" +\S+ +LEVEL: (?:{levels})\s*$"
_RECORD_HEAD = re.compile(_RECORD_LEVEL.format(levels=r"\w+"))
# Windows' Event Viewer exported as CSV: the level, then the date ("Error,3/13/2024 3:41:07 AM,...")
_EVENT_VIEWER = r"^(?:{levels}),\d{{1,2}}/\d{{1,2}}/\d{{4}} "
# MIT Kerberos daemons: the level in parentheses after the process ("krb5kdc[1873](info): ", "kadmind[9](Error): ")
_PAREN_LEVEL = r"\w\[\d+\]\((?i:{levels})\): "
# the KDC answers every request at info; its reply code says whether it was refused ("AS_REQ (6 etypes {18 17})
# 10.40.22.57: LOCKED_OUT: svc-etl@CORP for krbtgt/CORP@CORP, Clients credentials have been revoked"): any code but
# a ticket issued or a request for pre-authentication
_KDC_REFUSED = r"\b(?:AS|TGS)_REQ \([^)]*\) \S+: (?!ISSUE:|NEEDED_PREAUTH:)[A-Z][A-Z_]+:"
# a request that the server failed: "GET /pay HTTP/1.1" 502, JSON "status": 503, HAProxy "0/0/1/-1/30003 504"
_SERVER_ERROR = ACCESS_REQUEST + r"5\d\d\b|\"status\"\s*:\s*\"?5\d\d\b|" + HAPROXY_TIMERS + r"5\d\d\b"
# MongoDB's structured log (4.4+): "s":"F" fatal, "E" error, "W" warning ("I" and "D1".. say little: MongoDB
# logs "Authentication failed" and failed heartbeats at "I", so those lines are read by their text)
_MONGO = r"\"s\":\s*\"[{levels}]\""
# a level word that says error (not a count of none: "ERROR count: 0"); in a line whose level field says all is
# well it is only a word of the message ('"level":"info", ... "summary":"ERROR count: 16"')
_ERROR_WORD = re.compile(r"\b(?:ERROR|ERR|FATAL|CRITICAL|CRIT|SEVERE|PANIC|EMERG|ALERT)\b"
                         r"(?!\s*(?:count|total)?\s*[=:]\s*0\b)")
_QUIET_KEY = re.compile(_LEVEL_KEY + r"(?i:info|debug|trace|notice)\b")
_ERROR = re.compile(  # a level that says error
    _LEVEL_KEY + r"(?:error|err|fatal|critical|panic)\b"
    r"|" + _SERVER_ERROR
    # Apache, nginx, PHP: "[error]"; Apache 2.4 with its module: "[proxy:error]"
    + r"|(?i:\[(?:\w+:)?(?:error|err|crit|critical|alert|emerg|fatal)\])"
    + r"|^(?:fail|crit): "  # .NET's console logger: "fail: Microsoft.AspNetCore.Server.Kestrel[13]"
    + r"|\[FTL\]"  # Serilog's fatal (its error is "[ERR]")
    + r"|<(?:Error|Fatal|Critical)>"  # ClickHouse and other Poco loggers: "{} <Fatal> BaseDaemon: ..."
    + r"|\bblocked for more than \d+ seconds\b"  # the kernel's hung task report (it says "INFO:")
    r"|" + _KLOG.format(levels="EF") + r"|" + _LOGCAT.format(levels="EF") + r"|" + _NUMERIC.format(levels="50|60")
    + r"|" + _MONGO.format(levels="EF") + r"|" + _CEPH.format(levels="-1") + r"|" + _FUNCTION_LEVEL.format(levels="EF")
    + r"|" + _FAILED_EVENT + r"|" + _SLASH_LEVEL.format(levels="critical|error|fatal")
    + r"|" + _EVENT_VIEWER.format(levels="Error|Critical|Audit Failure")
    + r"|" + _RECORD_LEVEL.format(levels="Critical|Severe|Error")
    + r"|" + _PAREN_LEVEL.format(levels="error|err|crit|alert|emerg") + r"|" + _KDC_REFUSED
)
_WARNING = re.compile(
    r"\b(?:WARN|WARNING)\b|" + _LEVEL_KEY + r"warn(?:ing)?\b|(?i:\bwarning\b:)|(?i:\[ ?(?:\w+:)?warn(?:ing)?\])|^warn: "
    r"|\[WRN\]|<Warning>"  # Serilog, Poco
    r"|" + _KLOG.format(levels="W") + r"|" + _LOGCAT.format(levels="W") + r"|" + _REDIS.format(levels="#")
    + r"|" + _NUMERIC.format(levels="40") + r"|" + _MONGO.format(levels="W") + r"|" + _FUNCTION_LEVEL.format(levels="W")
    + r"|" + _SLASH_LEVEL.format(levels="warning") + r"|" + _EVENT_VIEWER.format(levels="Warning")
    + r"|" + _RECORD_LEVEL.format(levels="Warning") + r"|" + _PAREN_LEVEL.format(levels="warning|warn")
)
_QUIET = re.compile(  # a level that says all is well: what the text says then does not make it an error
    r"\b(?:TRACE|DEBUG|INFO|NOTICE)\b|" + _LEVEL_KEY + r"(?:info|debug|trace|notice)\b"
    r"|(?i:\[ ?(?:\w+:)?(?:info|notice|debug|trace\d?)\])|^(?:info|dbug|trce): |\[(?:INF|DBG|VRB)\]"  # Serilog
    r"|<(?:Information|Notice|Debug|Trace|Test)>"  # Poco
    r"|" + _KLOG.format(levels="IV") + r"|" + _LOGCAT.format(levels="VDI") + r"|" + _REDIS.format(levels="*.-")
    + r"|" + _NUMERIC.format(levels="10|20|30") + r"|" + _FUNCTION_LEVEL.format(levels="IDT")
    + r"|" + _SLASH_LEVEL.format(levels="information|notice|debug")
    + r"|" + _EVENT_VIEWER.format(levels="Information|Verbose|Audit Success")
    + r"|" + _RECORD_LEVEL.format(levels="Info|Event") + r"|" + _PAREN_LEVEL.format(levels="info|notice|debug")
)
# an error field that holds none: 'error:<nil>', "err=nil msg=..." (not "error: null pointer")
_NO_ERROR = r"\s?[\"']?(?:<nil>|(?:nil|null|none)\b(?!\s+\w+(?:[\s,.;]|$)))"
_ERROR_TEXT = re.compile(  # a line without a level that reads as an error
    r"(?i:\b(?:error|fatal|panic)\b:(?!" + _NO_ERROR + r"))"  # not Go's "no error": 'error:<nil>'
    r"|(?i:\b(?:error|err|errmsg)[\"']?\s*[:=]\s*[\"']?(?!" + _NO_ERROR + r")[A-Za-z])"  # an error field with a
    # message: "error":"Host...
    r"|\b[A-Z]\w*(?:Exception|Error)\b(?::|$)"
    r"|\bOOMKilled\b|(?i:\bout of memory\b)|\bKilled process\b|(?i:\bsegmentation fault\b)"
    r"|(?i:\bcannot allocate\b)|\bCrash dump is being written\b"  # ENOMEM; the Erlang VM's own last words
    r"|\bPermission denied\b"  # EACCES: "opendkim[21262]: ... s2025.private: open(): Permission denied"
    # "Authentication failed" (not a count of none: "failed=0"); HAProxy's servers
    r"|(?i:\bfail(?:ed|ure)\b(?!\s*[=:]\s*0\b))|\bis DOWN\b|\bno server available\b"
    # the kernel and systemd (syslog and the journal have no level): a disk, a crash, a unit that gave up
    r"|\bI/O error\b|-fs error\b|\bsegfault at\b|\b(?:dumped core|core dumped)\b|\bcode=(?:killed|dumped)\b"
    r"|\bcode=exited, status=(?!0/)\d+"  # systemd: a unit's main process exited with an error status
    r"|(?i:\btimed out\b)|(?i:\bsyntax error\b)"  # Apache: "AH00526: Syntax error on line 41 of /usr/.../x.conf:"
    # a process's crash report (SQL Server: "***Stack Dump being sent to ...", "generated fatal exception c0000005
    # EXCEPTION_ACCESS_VIOLATION")
    r"|(?i:\bstack dump\b|\bfatal exception\b|\baccess violation\b)"
    r"|(?i:\bdeadlock(?:ed|s)?\b)"  # SQL Server's "deadlock-list", "deadlock victim=process27a3c5e8c18"
    r"|\bSIG(?:SEGV|BUS|ILL|FPE|ABRT)\b"  # a fatal signal: Fluent Bit's "[engine] caught signal (SIGSEGV)"
    r"|\berr=(?!0\b)\d+\b"  # a result code other than 0: OpenLDAP's "RESULT tag=97 err=49" (invalid credentials)
    # what a server refused a client, in logs without levels (Mosquitto: "Client connection from 10.20.6.61:36068
    # denied: max_connections exceeded.", "Client hmi-panel-12 disconnected, not authorised.")
    r"|(?i:\b(?:denied|refused|rejected|rejecting|not authori[sz]ed|unauthori[sz]ed)\b)"
    # a configuration file's diagnostic, as parsers write them (BIND: "/etc/bind/named.conf.options:18: option
    # 'dnssec-enable' no longer exists"); not a stack frame ("/app/a.js:42:41)", "/app/x.rb:12:in")
    r"|(?:^|\s)/[\w.@+-]+(?:/[\w.@+-]+)*:\d+: \S"
    # what a daemon without levels says when it gives up or cannot go on (strongSwan: "giving up after 5
    # retransmits", "subject certificate invalid", "pool '10.10.8.0/26' is full", "no trusted RSA public key found
    # for ...", a notify code "N(AUTH_FAILED)", "INTERNAL_ADDRESS_FAILURE", "unable to start", "charon has died",
    # "killing ourself, received critical signal", and the fatal signal's number: "thread 15 received 11")
    r"|(?i:\b(?:giving up|gave up|not responding|unable to|has died|critical signal)\b)"
    r"|(?i:\b(?:can't|cannot|could not|couldn't) [a-z]{3,})"  # "can't reload config file due to errors"
    r"|(?i:\blimit (?:of \S+ )?(?:reached|exceeded)\b)"  # "per-IP half-open IKE_SA limit of 5 reached"
    r"|(?i:\binvalid\b)|\bis full\b|\bno (?:[\w-]+ ){1,4}found\b|\b[A-Z][A-Z0-9]*_FAIL(?:ED|URE)?\b"
    r"|\bthread \d+ received \d{1,2}\s*$"
    # a peer gone, in the C library's words (OpenVPN: "write UDPv4 []: Network is unreachable (code=101)"; not BIND's
    # routine "network unreachable resolving" nor Zabbix's "unreachable poller"), a process that crashed ("Exiting
    # due to fatal error"; PgBouncer at LOG: "closing because: server conn crashed? (age=2231s)")
    r"|(?i:\b(?:network|host) is unreachable\b|\bno route to host\b|\bfatal error\b|\bcrashed\b)"
    # uWSGI: a worker killed ("DAMN ! worker 3 (pid: 1205) died, killed by signal 9 :( trying respawn ..."), for taking
    # too long ("*** HARAKIRI ON WORKER 3 (pid: 1205, try: 1, graceful: yes) ***"), its socket's backlog full ("***
    # uWSGI listen queue of socket "127.0.0.1:8001" (fd: 3) full !!! (101/100) ***")
    r"|(?i:\bkilled by signal\b)|\bHARAKIRI\b|(?i:\blisten queue\b.{0,80}\bfull\b)"
    # a network interface or its peers lost, in the kernel's and routing daemons' words (a NIC driver: "ixgbe
    # 0000:3b:00.0 ens1f0: Detected Tx Unit Hang", "NIC Link is Down"; BIRD: "bgp1: Hold timer expired"; netfilter:
    # "nf_conntrack: table full, dropping packet"; Keepalived: "(VI_1) Entering FAULT STATE")
    r"|(?i:\b(?:tx )?unit hang\b|\btx hang\b|\blink is down\b|\bhold timer expired\b|\btable full\b"
    r"|\bdropping packets?\b|\bfault state\b)"
)
# a process killed for memory: an error whatever the level it is logged at (containerd logs "TaskOOM event" at info)
_OUT_OF_MEMORY_KILL = re.compile(r"\bTaskOOM\b|\bOOMKill(?:ed|ing)?\b|(?i:\boom[-_ ]?kill(?:ed|er|ing)?\b)")

# Lines that start a stack trace, and lines that continue one.
_GOROUTINE = r"goroutine \d+ (?:\S+ )*\["  # Go: "goroutine 7 [running]:", "goroutine 7 gp=0xc0 m=27 [running]:"
# Rust: "thread 'tokio-runtime-worker' panicked at src/render/style.rs:214:41:", its message on the next line, then
# "stack backtrace:" with numbered frames, or a note that says how to get one ("note: run with `RUST_BACKTRACE=1`")
_RUST_PANIC = r"thread '[^']*' panicked at "
_RUST_TAIL = r"stack backtrace:$|note: .*\bRUST_BACKTRACE\b"
# the JVM's own crash report on stdout (catalina.out): "#" lines from "# A fatal error has been detected by the Java
# Runtime Environment:" through "#  SIGSEGV (0xb) at pc=..." and "# C  [libtcnative-1.so.0+0x1f2a3]" to the last "#"
_JVM_CRASH = r"# A fatal error has been detected by the Java Runtime Environment"
# a C++ daemon's backtrace (Ceph: " 4: (KernelDevice::_aio_thread()+0x1254) [0x55d5c1a8e0a4]",
# " 7: /lib64/libpthread.so.0(+0x81ca) [0x7f3a4a5b61ca]", " 8: clone()") after the signal it caught
# ("*** Caught signal (Aborted) **") or a failed assertion
_NATIVE_FRAME = r"\s+\d{1,3}: (?:\(.+\)\+0x[0-9a-f]+\) \[0x[0-9a-f]+\]|\S+\([\w+.]*\) \[0x[0-9a-f]+\]|[\w:~]+\(\))\s*$"
_SIGNAL = r"\*\*\* Caught signal \("
# a frame as gdb and libbacktrace print it (Fluent Bit: "#2  0x55d0a3b829d2     in  cb_lua_filter() at plugins/...")
_GDB_FRAME = r"#\d{1,3}\s+0x[0-9a-f]+\s+in\s+\S"
# a frame as glibc's backtrace_symbols prints it, under its header (FreeRADIUS: "Backtrace of last 14 frames:",
# "/usr/lib/freeradius/rlm_python3.so(+0x4d1a)[0x7f6c2bd14d1a]", "/usr/sbin/freeradius(modcall+0x2a9)[0x55b1...]")
# Samba numbers them under its own header, indented ("  BACKTRACE: 27 stack frames:", "   #4 /usr/lib/x86_64-linux-gnu/
# samba/vfs/fruit.so(+0x10a3c) [0x7f3b14e3ea3c]")
_GLIBC_FRAME = r"\s*(?:#\d{1,3}\s+)?\S*/[\w.+-]+\((?:[\w.]*\+0x[0-9a-f]+)?\) ?\[0x[0-9a-f]+\]\s*$"
# (and uWSGI: "*** backtrace of 1204 ***"; Node.js's report when V8 runs out of heap: "<--- JS stacktrace --->",
# "----- Native stack trace -----")
_BACKTRACE_HEADER = (r"(?:Backtrace(?: of (?:the )?(?:last )?\d+ frames)?:|\s*BACKTRACE: \d+ stack frames:"
                     r"|\*\*\* backtrace of \d+ \*\*\*|<--- JS stacktrace --->|-{3,} Native stack trace -{3,})$")
# a frame of V8's native stack ("  3: 0xf06747 v8::internal::V8::FatalProcessOutOfMemory(...) [node]", "10: 0x1979ef6
# [node]")
_V8_FRAME = r"\s*\d{1,3}: 0x[0-9a-f]+ .*\[[\w./-]+\]\s*$"
# a frame as strongSwan prints it, after its thread and subsystem ("15[LIB]  dumping 8 stack frame addresses:",
# "15[LIB]   /usr/lib/ipsec/plugins/libstrongswan-curl.so @ 0x7f5c3c9f1000 [0x7f5c3c9f2c4e]", and with addr2line
# "    -> curl_fetcher.c:220")
_DAEMON_TAG = r"(?:\d{1,3}\[[A-Z]{2,4}\]\s+)?"
_ADDRESS_FRAME = _DAEMON_TAG + r"\s*\S*/[\w.+-]+ @ 0x[0-9a-f]+(?: \([^)\n]*\))? \[0x[0-9a-f]+\]\s*$"
_ADDRESS_FRAME_SOURCE = _DAEMON_TAG + r"\s+-> \S"
_DUMPING_HEADER = _DAEMON_TAG + r"dumping \d+ stack frame addresses:$"
# a frame of a Go stack as Gitea logs it under a PANIC line: "/source/routers/web/repo/pull.go:447 (0x2c1e4b3)", then
# the function and its source line indented by a tab
_GO_PC_FRAME = r"/\S+\.go:\d+ \(0x[0-9a-f]+\)\s*$"
_TRACE_START = re.compile(
    r"^(?:Traceback \(most recent call last\):"
    r"|Exception in thread \""
    r"|panic: |fatal error: |" + _GOROUTINE  # Go's panics and its runtime's fatal errors
    + r"|" + _RUST_PANIC + r"|" + _JVM_CRASH
    + r"|\*\* \(\w[\w.]*\) )"  # Elixir: "** (Postgrex.Error) ERROR 42P07 ...", "** (exit) an exception was raised:"
    + r"|^(?:" + TIMESTAMP.pattern + r")\s+[0-9a-f]{12,16}\s+-?\d+\s+" + _SIGNAL  # Ceph, after its prefix
    + r"|^" + _NATIVE_FRAME  # after a blank line and the daemon's version
    + r"|^" + _GDB_FRAME + r"|^" + _GLIBC_FRAME + r"|^" + _BACKTRACE_HEADER + r"|^" + _DUMPING_HEADER
    + r"|^" + _ADDRESS_FRAME + r"|^" + _GO_PC_FRAME + r"|^" + _V8_FRAME
)
_GO_PC_FRAME_LINE = re.compile(r"^" + _GO_PC_FRAME)
_JAVA_FRAME = re.compile(r"^\s+at [\w$.<>/]+\(.*\)\s*$|^\s+at [\w$.<>/]+")
_TRACE_CONTINUATION = re.compile(
    r"^(?:\s+\S"  # indented: frames, source lines, "... 12 more"
    r"|Caused by:(?: |$)|Suppressed: |" + _RUST_TAIL + r"|#(?: |$)"  # the JVM's crash report goes on in "#" lines
    + r"|During handling of the above exception|The above exception was the direct cause"
    r"|Traceback \(most recent call last\):"
    r"|" + _GOROUTINE + r"|created by |\[signal |runtime stack:$"  # Go: "[signal SIGSEGV: ...]", goroutines
    r"|" + _GDB_FRAME + r"|" + _GLIBC_FRAME + r"|" + _ADDRESS_FRAME + r"|" + _ADDRESS_FRAME_SOURCE
    + r"|" + _GO_PC_FRAME + r"|" + _V8_FRAME + ")"
)
_FRAME_OR_HEADER = re.compile(  # a line that only a stack trace has
    r"^(?:\s+at [\w$.<>/]+\(|\s+File \".*\", line \d+|\t/\S+\.go:\d+|Caused by:(?: |$)"
    r"|Traceback \(most recent call last\):"
    r"|panic: |fatal error: |runtime stack:$|" + _GOROUTINE + r"|" + _RUST_PANIC + r"|" + _RUST_TAIL + r"|" + _JVM_CRASH
    + r"|#\s+(?:SIGSEGV|SIGBUS|SIGILL|SIGFPE|Problematic frame:|[CJVj]\s+\[)|" + _NATIVE_FRAME + r"|" + _GDB_FRAME
    + r"|" + _GLIBC_FRAME + r"|" + _BACKTRACE_HEADER + r"|" + _DUMPING_HEADER + r"|" + _ADDRESS_FRAME
    + r"|" + _GO_PC_FRAME + r"|" + _V8_FRAME
    + r"|\s+at (?:.+ \()?[^\s()]*[A-Za-z/][^\s()]*:\d+:\d+\)?\s*$"  # JavaScript: "    at f (/app/a.js:42:41)"
    # Elixir: "** (Postgrex.Error) ...", "    (ecto_sql 3.11.1) lib/ecto/adapters/sql.ex:1054: Ecto.Adapters.SQL.f/1"
    + r"|\s*\*\* \(\w[\w.]*\) |\s+(?:\(\w+ [\w.+-]+\) )?[\w/.-]+\.exs?:\d+: \S)"
)
# Ruby: "app/jobs/quote_job.rb:22:in `perform'", "from /gems/x.rb:5:in 'Foo#bar'" (Ruby 3.4 quotes), alone on a
# line or after a logger's prefix ("... WARN: /usr/lib/ruby/3.2.0/net/protocol.rb:229:in `rbuf_fill'")
_RUBY = r"(?:from )?[\w./~@+-]*\.rb:\d+:in [`'][^`'\n]*'\s*$"
_RUBY_FRAME = re.compile(r"(?:^|\s)" + _RUBY)
_RUBY_FRAME_ALONE = re.compile(r"^\s*" + _RUBY)
_RUST_PANIC_LINE = re.compile(r"^" + _RUST_PANIC)
_CHAIN_MARKER = re.compile(r"^(?:During handling of the above exception|The above exception was the direct cause"
                           r"|Caused by:(?: |$)|Traceback \(most recent call last\):|runtime stack:$|"
                           + _GOROUTINE + ")")
_LOG_NAME = re.compile(
    r"(?i)(?:\.(?:log|out|err)(?:\.\d+)?(?:\.gz)?$"  # app.log, app.log.1, app.log.gz, job.out
    r"|log[\w.-]*\.(?:txt|gz)$"  # build-log.txt, logs-2024.gz
    r"|\.log\.\d{4}-\d{2}-\d{2}(?:\.gz)?$)"  # app.log.2024-05-01
)


class Severity(IntEnum):
    NONE = 0
    WARNING = 1
    ERROR = 2
    STACK_TRACE = 3


def _has_level(line: str) -> bool:
    """The line names its level, whatever it is (error, warning, or one that says all is well)."""
    return bool(_ERROR.search(line) or _ERROR_WORD.search(line) or _WARNING.search(line) or _QUIET.search(line))


def line_severity(line: str) -> Severity:
    """The line's level when it has one (an exception logged at WARN is a warning, "parity error
    corrected" at INFO is nothing, a process killed for memory is an error at any level); for a line without a
    level, whether it reads as an error."""
    if _ERROR.search(line) or (_ERROR_WORD.search(line) and not _QUIET_KEY.search(line)):
        return Severity.ERROR
    if _WARNING.search(line):
        return Severity.WARNING
    if _QUIET.search(line):
        return Severity.ERROR if _OUT_OF_MEMORY_KILL.search(line) else Severity.NONE
    return Severity.ERROR if _ERROR_TEXT.search(line) or _OUT_OF_MEMORY_KILL.search(line) else Severity.NONE


# The fields of an error report logged as lines of their own after it (PostgreSQL: "ERROR: deadlock
# detected", then "DETAIL: Process 4412 waits for ...", "CONTEXT: ... in relation "inventory"")
_REPORT_FIELD = re.compile(r"(?:^|\s)(?:DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION):\s")


_CAUSES = re.compile(r"^Caused by:\s*$")  # the head of a chain of causes printed after an error, on its own line


def continues_message(line: str, next_line: str | None = None) -> bool:
    """``line`` belongs to the warning or error logged just before it: an indented line of no level of its
    own (a message over several lines; also an unindented one that indented ones follow, as libpq writes
    "server closed the connection unexpectedly", then "This probably means ..." indented), a field of the same error
    report (``DETAIL:``, ``HINT:``, ``CONTEXT:``, ``STATEMENT:``...), or the chain of its causes (Rust's
    anyhow: "Error: failed to load configuration", a blank line, "Caused by:", then the causes indented)."""
    if _REPORT_FIELD.search(line) or _CAUSES.match(line):
        return True
    if not line.strip():
        return next_line is not None and bool(_CAUSES.match(next_line))
    if not _indented_text(line) and (next_line is None or not _indented_text(next_line)
                                     or starts_stack_trace(line, next_line)):
        return False  # an unindented line goes on with the message only when indented lines (not frames) follow
    return (bool(line.strip()) and not has_leading_timestamp(line)
            and not _has_level(line))


def _indented_text(line: str) -> bool:
    return line[:1] in (" ", "\t") and bool(line.strip()) and not has_leading_timestamp(line)


# SQL Server's error log gives an error's number on a line of its own and its message on the next: "Error: 17311,
# Severity: 16, State: 1." then "SQL Server is terminating because of fatal exception c0000005. ..."
_ERROR_NUMBER = re.compile(r"\bError: \d+, Severity: \d+, State: \d+\.?\s*$")


def announces_message(line: str) -> bool:
    """``line`` gives only an error's number: the next line is its message."""
    return bool(_ERROR_NUMBER.search(line))


_EMPTY_MESSAGE = re.compile(r"\s:\s*$")  # the separator after the logger's name, and nothing after it


def announces_report(line: str) -> bool:
    """``line`` is logged with an empty message, ending in the colon after its logger's name: its report follows on
    lines of its own (Spring Boot's failure analysis: "... ERROR 35102 --- [main] o.s.b.d.LoggingFailureAnalysisReporter
    : ", a blank line, "APPLICATION FAILED TO START", "Description:", ...; not MySQL's "A long semaphore wait:", whose
    details are lines of their own)."""
    return bool(_EMPTY_MESSAGE.search(line)) and has_leading_timestamp(line)


def continues_report_lines(line: str, next_line: str | None) -> bool:
    """``line`` goes on with a report announced above it (``announces_report``): it has no timestamp, and is not the
    first of two blank lines (the report ends there)."""
    if has_leading_timestamp(line):
        return False
    return bool(line.strip()) or (next_line is not None and bool(next_line.strip())
                                  and not has_leading_timestamp(next_line))


# a line's time and its source: SQL Server's "2024-05-14 05:41:17.63 spid21s      deadlock-list", Zabbix's process
# before its time ("  1191:20250311:092214.551 === memory statistics for configuration cache ===")
_TIME_AND_SOURCE = re.compile(r"^(?P<time>" + TIMESTAMP.pattern + r")\s+(?P<source>\S+)\s"
                              r"|^\s*(?P<process>\d+):(?P<stamp>\d{8}:\d{6}\.\d{3})\s")
_FRACTION = re.compile(r"\d\d[.,]\d")  # seconds with a fraction


def _time_and_source(line: str) -> tuple[str, str] | None:
    found = _TIME_AND_SOURCE.match(line)
    if found is None:
        return None
    return found["time"] or found["stamp"], found["source"] or found["process"]


def continues_report(line: str, head: str) -> bool:
    """``line`` is a line of the report that ``head`` opens: logged at the same time, to a fraction of a second,
    by the same source, with no level of its own (SQL Server's deadlock graph: "deadlock-list", then " deadlock
    victim=...", "  process-list", the statements... each a line of the error log with the same time and spid;
    not the next of a burst of lines that each have their level, nor lines of the same second)."""
    first, other = _time_and_source(head), _time_and_source(line)
    if (first is None or other is None or first != other or not _FRACTION.search(first[0])
            or _has_level(line)):
        return False
    process, its = _SYSLOG_PREFIX.match(head), _SYSLOG_PREFIX.match(line)  # syslog: the host, then the process
    if process is None or its is None:
        return process is None and its is None
    return process.group(1) == its.group(1)


def _ruby_frame_alone(line: str) -> bool:
    return ".rb:" in line and bool(_RUBY_FRAME_ALONE.match(line))


# syslog's and the journal's prefix (``journalctl -o short-iso``, rsyslog): "2026-04-07T08:30:16+00:00 ci-runner-04
# containerd[884]: ", "May  1 10:00:01 web-1 app[77]: ". A process's stack trace reaches them line by line, each under
# the prefix, so its frames are read after it.
_SYSLOG_PREFIX = re.compile(r"^(?:" + TIMESTAMP.pattern + r")\s+[\w.-]+\s+([\w./@-]+(?:\[\d+\])?): ?")


def _unprefixed(line: str, other: str) -> tuple[str, str]:
    """Both lines without syslog's prefix (``_SYSLOG_PREFIX``) when they share it (the same process); the
    lines as they are otherwise."""
    head = _SYSLOG_PREFIX.match(line)
    if head is None:
        return line, other
    tail = _SYSLOG_PREFIX.match(other)
    if tail is None or tail.group(1) != head.group(1):
        return line, other
    return line[head.end():], other[tail.end():]


def starts_stack_trace(line: str, next_line: str | None) -> bool:
    """``line`` opens a stack trace: a Python/Go header, or any line followed by a Java ``at`` frame, by
    a Ruby frame on a line of its own or by a Go frame as Gitea logs them (``_GO_PC_FRAME``); under syslog's prefix
    too, when the next line is the same process's (``_unprefixed``)."""
    if next_line is not None:
        line, next_line = _unprefixed(line, next_line)
    if _TRACE_START.match(line):
        return True
    if next_line is not None and _ruby_frame_alone(next_line) and not _ruby_frame_alone(line):
        return True
    if next_line is not None and _GO_PC_FRAME_LINE.match(next_line) and not _GO_PC_FRAME_LINE.match(line):
        return True
    return next_line is not None and bool(_JAVA_FRAME.match(next_line)) and not _JAVA_FRAME.match(line)


def continues_stack_trace(line: str, previous: str, next_line: str | None) -> bool:
    """``line`` belongs to the stack trace that ``previous`` is part of (under syslog's prefix too, when both
    are the same process's: ``_unprefixed``)."""
    if next_line is not None:
        next_line = _unprefixed(line, next_line)[1]
    line, previous = _unprefixed(line, previous)
    if _TRACE_CONTINUATION.match(line) or _ruby_frame_alone(line):
        return True
    if (line.strip() and next_line is not None and not has_leading_timestamp(line)
            and next_line.startswith((" ", "\t", "Caused by: ")) and _TRACE_CONTINUATION.match(next_line)):
        return True  # a message line between frames (Java "Detail:" lines, Go function lines)
    if _RUST_PANIC_LINE.match(previous) and line.strip() and not has_leading_timestamp(line):
        return True  # a Rust panic's message, on the line after "thread 'main' panicked at src/main.rs:9:5:"
    if not line.strip():  # a blank line between chained tracebacks
        return next_line is not None and bool(_CHAIN_MARKER.match(next_line))
    # Python ends a traceback with an unindented "SomeError: message" right after the indented frames.
    return previous.startswith((" ", "\t")) and not has_leading_timestamp(line) and bool(
        re.match(r"^[A-Za-z_][\w.]*(?::|$)", line)
    )


def is_stack_trace_line(line: str) -> bool:
    """A frame or header that only a stack trace has (Java ``at`` frames, Python ``File`` lines, Go
    frames, Ruby frames, ``Caused by:``, ``Traceback``, ``panic:``): found in any piece of a trace, even a
    middle one, and under syslog's prefix."""
    prefix = _SYSLOG_PREFIX.match(line)
    line = line[prefix.end():] if prefix else line
    return bool(_FRAME_OR_HEADER.match(line)) or (".rb:" in line and bool(_RUBY_FRAME.search(line)))


def opens_record(line: str) -> bool:
    """``line`` opens a record whose level it gives for the lines after it, to a blank line (``_RECORD_HEAD``: Db2's
    "2024-03-14-04.12.33.456167+060 I24120E1728          LEVEL: Severe", then "PID     : 2841 ...", "MESSAGE : ..."
    and the values of its "DATA #1 :" fields)."""
    return bool(_RECORD_HEAD.match(line))


def has_leading_timestamp(line: str) -> bool:
    return bool(_LEADING_TIMESTAMP.match(line))


def strip_timestamps(line: str) -> str:
    """The line without its timestamps: what repeated lines are compared on."""
    return TIMESTAMP.sub("", line)


_DIGITS = re.compile(r"\S*\d\S*")


def line_template(line: str) -> str:
    """A log line without its timestamps, and with every word that holds a digit masked: lines of one
    kind of event share it (``request_id=r001157`` and ``request_id=r001158`` alike)."""
    return _DIGITS.sub("<*>", strip_timestamps(line)).strip()


def first_timestamp(line: str) -> str | None:
    match = TIMESTAMP.search(line)
    return match.group(0) if match else None


_EPOCH = re.compile(r"\d{10}(?:\.\d+)?")
_EPOCH_MILLISECONDS = re.compile(r"\d{13}")


def epoch_seconds(stamp: str) -> float | None:
    """The seconds since 1970 (UTC) that a timestamp of ``TIMESTAMP`` writes as a number (of seconds, or of
    milliseconds), else None."""
    if _EPOCH_MILLISECONDS.fullmatch(stamp):
        return int(stamp) / 1000
    return float(stamp) if _EPOCH.fullmatch(stamp) else None


def readable_timestamp(stamp: str) -> str:
    """A timestamp as people read it: epoch seconds as the UTC date and time ("2024-12-03 00:30:01 UTC"), a
    key=value one without its key ("2024-09-17 01:47:14"), any other as the log wrote it."""
    seconds = epoch_seconds(stamp)
    if seconds is None:
        return stamp.replace(" time=", " ")
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def looks_like_log_name(name: str) -> bool:
    return bool(_LOG_NAME.search(name))


LOG_LINE_SHARE = 1 / 3  # of the first non-blank lines that start with a timestamp, for a text to be a log


def looks_like_log_text(text: str, sample_lines: int = 40) -> bool:
    """A third of the first non-blank lines start with a timestamp (records may run over several lines: stack traces,
    Windows' Event Viewer's quoted messages in its CSV export), three of them at least."""
    lines = [line for line in text[:20_000].split("\n")[: sample_lines * 2] if line.strip()][:sample_lines]
    stamped = sum(1 for line in lines if has_leading_timestamp(line))
    return stamped >= 3 and stamped >= LOG_LINE_SHARE * len(lines)
