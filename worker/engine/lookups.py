"""Lookup questions about a log: the kind of value a question asks for, and the log chunks that state one.

"Which version was running?", "what port does it listen on?", "which host does it connect to?" ask
for a value that a log states once, usually in a start-up or configuration line, while the words of the
question ("running", the service's name) are on every request line. So a question that names a kind of
value (``VALUE_KINDS``: a version, a port, a host or address, a file path) weighs the log chunks that
hold a value of that shape: ``2.14.1``, ``v1.19.0``, ``Java 21.0.2``; ``:8080``, ``port 5432``; a URL,
an IP address, ``host:port``; ``/var/lib/...``. "When did the database come back up?" asks for the same
kind of line: the one that says the service recovered (``ready to accept connections``, ``back online``),
not the crash before it, whose lines share the question's words, nor the first start-up: the first
recovery line after an incident counts in full, other recovery lines half; when the question names one
party of the log ("when did billing connect again?"), its own comebacks only, the one after its worst
outage in full and the others 0.75. "Did anyone change the
config?" asks for the line that records a change (``parameter "work_mem" changed``, ``config reloaded``,
``updating [x] from [90%] to [93%]``). "Who became leader?" asks for the line that names the new leader
(``leader-id=vault-3``, ``assuming primary role``). "Who unstuck it?", "did somebody bounce it?" ask for the line
that says someone acted (``Console [rkhan] ... cmdline prune``, ``command received from user CORP\\adm-mnowak``,
``SIGTERM received``). A change or a leader asked for before or after an
event ("before the disk trouble started", "when vault-2 stepped down": anchors.py) is the last such line
before it, or the first after it: that one counts in full, the others on the same side half, those on the
other side a quarter. A version asked for as it is now ("which build is it on now?") is the last line of its
kind that the log states: that chunk counts in full, those with earlier lines of the kind half. A service's
starts are read from its log too (``_restarts``: the log's own start-up lines again): "when did it stop crash
looping?" asks for the start after the last crash of the loop, "what was the last thing it logged before it
died?" for the line before a start, "when did it last get restarted?" for the last start.
Other questions, and chunks of documents that are not logs, get nothing.

Pure functions of the question and the candidates' text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence

import numpy as np

from worker.documents.document import Chunk, Document, logs_in_file_order
from worker.documents.log_format import (
    ACCESS_REQUEST,
    QUOTED_REQUEST,
    Severity,
    is_stack_trace_line,
    line_severity,
    line_template,
)
from worker.engine.anchors import PREFIX, anchor_position, is_timed, question_anchor, word_prefixes
from worker.engine.base import FUNCTION_WORDS, MAX_QUESTION_CHARS
from worker.engine.incidents import text_severity
from worker.engine.moments import DAY, asked_spans, chunk_spans
from worker.engine.parties import named_parties, text_words

_VERSION = (r"(?<![\w.])v\d+(?:\.\d+)+\b"  # v1.19.0, v3.4
            # 2.14.1, 1.2.3-rc1 (not an IP address, a date written with dots: 2025.03.11, nor an Erlang pid: <0.312.0>)
            # (nor a library's, in a file name: flink-dist-1.18.1.jar, libssl.so.3.0.2)
            r"|(?<![\w.<])(?!\d{4}\.\d\d\.\d\d\b)\d+\.\d+\.\d+(?:[-+][\w.]+)?(?![\w.]*\.\d)(?!>)"
            r"(?!\.(?:jar|whl|war|tar|tgz|gz|zip|rpm|deb|so|dll|dylib)\b)"
            # four numbers, one too large for an IP address: SQL Server's 16.0.4115.5, Windows' 10.0.19045.3803
            r"|(?<![\w.])(?=[\d.]*\b(?:\d{4,}|[3-9]\d\d|2[6-9]\d|25[6-9])\b)\d+(?:\.\d+){3}\b(?![.:]\d)"
            # Java 21.0.2, PostgreSQL 16.2, nginx/1.25 (not an address: "ResourceID 10.42.1.17:6122")
            r"|\b[A-Z][A-Za-z]+[ /]\d+\.\d+(?:\.\d+)?\b(?![.:]\d)"
            # a program's name in lower case and its version as it starts: "exim 4.96 daemon started"
            r"|\b[a-z][\w-]*[ /]v?\d+\.\d+(?:\.\d+)?\b(?= (?:daemon |server |service )?(?:start(?:s|ed|ing)?"
            r"|ready|initiali[sz](?:ed|ing)|launch(?:ed|ing)|listening)\b)"
            # version=1.4, "version": "2.1", OpenSearch's version[2.13.0] (not a counter: version=20418)
            # and a release named by its date: MinIO's "Version: RELEASE.2024-05-10T01-41-38Z"
            r"|(?i:\bversion\b[\"']?\s*[=:\[]\s*[\"']?(?:v?\d+\.\d+|release[.-]\d{4}-\d\d-\d\d))"
            r"|(?i:\b(?:release|build|version)\s+v?\d{4}\.\d\d\.\d\d\b)")  # a dated release: "release 2026.03.04-2"
_PORT = r"(?<!\d\d):\d{2,5}\b(?![:.,]\d)|(?i:\bport\b[\"']?\s*[=: ]\s*\d{2,5}\b)"
_ADDRESS = (r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+"  # a URL
            r"|(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])"  # an IPv4 address
            r"|\b[a-z][\w-]*(?:\.[\w-]+)+:\d{2,5}\b")  # host.domain:port
_PATH = r"(?<![\w.:/])/[\w.-]+(?:/[\w.-]+)+"
_UP = (r"(?i:\bready (?:to (?:accept|serve|receive|handle)|for connections)\b"
       r"|\b(?:is|became|now) (?:ready|healthy|up|unsealed|available|online|operational|active)\b"
       r"|\bback (?:up|online|to normal)\b|\bup and running\b|(?<!stop )(?<!stopped )\blistening\b"
       r"|\bstarted successfully\b"
       r"|\b(?:database|db) (?:is )?open(?:ed)?\b"  # Oracle: "Completed: ALTER DATABASE OPEN", "Database opened."
       r"|\bstartup complete\b"
       # WildFly's "JBoss EAP 7.4.14.GA (...) started in 43210ms", Spring Boot's "Started App in 5.3 seconds", Tomcat's
       # "Server startup in [1234] milliseconds"
       r"|\b(?:started (?:[\w.-]+ )?|startup )in \[?\d+(?:\.\d+)?\]?\s*(?:ms|s|sec\w*|millis\w*)\b"
       r"|(?:\]|\b(?:server|service|node|broker|instance|application|app|daemon))\s+started\b"
       r"(?=[ \t]*(?:[(.]|\n|$)))")
# the recovery lines that say the service is up ("[KafkaServer id=2] started (kafka.server.KafkaServer)", "Server
# started.", "[os-node-2] started"; not "snapshot started")
_READY = re.compile(_UP)
_RECOVERED = (_UP + r"|(?i:\brecovered\b|\brestored\b|\bresumed\b|\breconnected\b|\bfinished reconnecting\b"
              r"|\bsucce(?:ss|eded|ssfully)\b"
              r"|\bauthenticated\b|\bgranted access\b|\blogged in\b|\bestablished\b|\bconnection created\b"
              r"|\b(?:alarm|alert)s? (?:disarmed|cleared|resolved)\b"  # etcd's "alarm disarmed" after NOSPACE
              r"|\bis UP\b|\b(?:re)?joined\b|\bunsealed\b|\bback in sync\b|\bcaught up\b"
              r"|(?<!not )(?<!n't )\bconnected (?:to|with)\b"  # Trino's "Connected to Hive metastore thrift://hms-2"
              r"|\brevived\b"  # Squid: "Detected REVIVED Parent: dlp-gw.corp.example"
              r"|\bserver \S+ OK\b"  # the kernel's NFS client: "nfs: server 10.20.0.15 OK" after "not responding"
              r"|\bregistered (?:with|to|at)\b"  # YARN: "Registered with ResourceManager as dn07..."
              # a state entered: Ceph's "state: booting -> active"
              r"|(?:->|=>|→)\s*(?:active|up|running|healthy|ready|online|green)\b"
              # a bad state left: ClickHouse's "Table is not readonly anymore", HDFS's "Leaving safe mode"
              r"|\b(?:not|no longer) (?:in )?(?:read-?only|degraded|throttled|fenced|paused)\b(?: mode)?(?! until)"
              r"|\b(?:leaving|leaves|left|exit(?:s|ed|ing)?) (?:[\w-]+ )?(?:safe ?|conserve |degraded |read-?only "
              r"|emergency |overload(?:ed)? |throttl\w* |maintenance )mode\b"  # FortiGate's "Kernel leaves memory
              # conserve mode"
              r"|\berr(?:or)?[:=]\s?<?nil\b>?"  # Go's "no error": client-go's '"Objects listed" error:<nil>'
              # a circuit breaker that lets calls through again: Polly's "OnCircuitClosed", resilience4j's "changed
              # state from HALF_OPEN to CLOSED", "circuit breaker is closed"
              r"|(?:\bon)?circuit(?:[ _-]?breaker)?\s*(?:['\"][^'\"\n]{1,60}['\"]\s*)?(?:is\s+|was\s+|now\s+"
              r"|changed\s+(?:state\s+)?(?:from\s+\w+\s+)?to\s+)?closed\b"
              r"|\bresponded (?:with )?(?:status )?2\d\d\b)"  # ASP.NET's request log: "HTTP POST /v2 responded 201"
              r"|(?i:" + ACCESS_REQUEST + r"2\d\d\b)")  # and an access log's request served again
_CHANGED = (r"(?i)\bchanged?\b|\breload(?:ed|ing)\b|\breconfigur\w*|\bSIGHUP\b|\bset to\b"
            r"|\boverrid\w*|\balter(?:ed|ing)?\b"  # "Processing override ... retention.ms -> ..."
            r"|\bdrop(?:ped|ping)?(?:Index\w*|Database|Collection)?\b"  # "CMD: dropIndexes"
            r"|\bupdat(?:ed|ing)\b|\b(?:dis|en)abl(?:ed|ing)\b"  # "updating [x] from [90%] to [93%]", "disabled audit"
            r"|\bload(?:ed|ing)? (?:of )?(?:the )?(?:new )?config(?:uration)?(?: file)?\b"  # Prometheus's reload
            r"|\bfrom \[[^\]\n]*\] to \[")
# the line that names who leads now: Raft's "leader-id=vault-3", "elected", MongoDB's "assuming primary role"
_LEADER = (r"(?i)\bleader(?:[-_ ]?(?:id|address|addr))?[\"']?[=:][\"']?\w[\w.:-]*|\belected\b|\bwon (?:the )?election\b"
           r"|\bbec(?:ame|omes?|oming) (?:the )?(?:new )?(?:leader|primary|master|active)\b|\bassuming primary\b"
           r"|\btransition to primary\b|\bnew (?:leader|primary|master)\b|\bentering leader state\b"
           r"|\bpromot\w+ to (?:leader|primary|master)\b")
# a person at work, or what they did: Bareos's console audit "Console [rkhan] from [10.10.4.37] cmdline prune ...",
# Windows' "IIS stop command received from user CORP\adm-mnowak", Puppet's "administratively disabled (Reason:
# 'tguerin: ...')", "SIGTERM received. Shutting down.", "sudo:", "session opened for user", "user=alice"
_ACTED = (r"\bConsole \[[^\]\n]{1,40}\]|\bcmdline\b|\bcommand received\b|\b(?:from|by) user\b"
          # a Windows account (CORP\adm-mnowak; not the system's own: NT AUTHORITY\SYSTEM)
          r"|(?<![\w\\])(?<!NT )[A-Z][A-Z0-9-]{1,15}\\[\w.$-]{2,}"
          r"|\badministratively\b|\bmanual(?:ly)?\b|\bby hand\b|\bby (?:an? )?(?:admin(?:istrator)?|operator)\b"
          r"|\b(?:issued|initiated|requested|triggered|performed|executed|approved) by\b"
          r"|\bsudo\b|\bsession opened for user\b|\bSUDO_USER=\w"
          r"|\b[Uu]ser '[\w.@-]+'"  # Junos: "UI_CMDLINE_READ_LINE: User 'jsmith', command 'deactivate ...'"
          # Proxmox VE: "pvedaemon[1795]: <dkowalski@pve> starting task UPID:pve03:...:qmstop:207:dkowalski@pve:"
          r"|<[\w.-]+@[\w.-]+> (?:starting|end) task\b"
          # a logback layout with the user between the thread and the logger (Nexus: "INFO  [qtp1796-2211] tgarcia
          # org.sonatype.nexus.internal.httpclient.HttpClientManagerImpl - Saving configuration"; not its "*SYSTEM")
          r"|\] (?!\*)[A-Za-z][\w.@-]{1,30} (?:[a-z]\w*\.){2,}[A-Z][\w$]* - "
          r"|\b(?:SIGTERM|SIGINT|SIGHUP)\b[^\n]{0,20}\breceived\b|\breceived (?:signal )?(?:SIGTERM|SIGINT|SIGHUP)\b"
          r"|\b(?:user|actor|operator|admin|initiator|requested_?by)[\"']?\s*[=:]\s*[\"']?[A-Za-z][\w.@\\-]*")
# a count of things that went wrong, as a job's summary gives it: "3 accounts failed", "rows rejected = 37", "Non-fatal
# FD errors:    9", "skipped=312", "(retried 5 times)" (not a count of none: "failed=0")
_WRONG = r"(?:failed|failures?|skipped|rejected|errors?|dropped|lost|aborted|bounced|missed|timed out|timeouts?)"
_COUNTED = (r"(?i)(?<![\w.:/-])(?!0\b)\d[\d,]*\s+(?:[\w-]+\s+){0,2}?" + _WRONG + r"\b"
            r"|\b" + _WRONG + r"\b[A-Za-z _-]{0,20}?\s*[=:]\s*(?!0\b)\d"
            r"|\bretried (?!0\b)\d+ times?\b")
# a job or process that got to its end: "Crash recovery has completed successfully.", "Sync operation to 7d2e0b4c
# succeeded", "Backup OK", "finished in 41.2s", and "Backup job finished with errors": whether it finished well is
# what the question asks
_COMPLETED = (r"(?i)\b(?:completed?|finished|succeeded|done)\b"
              r"|\bsuccessful(?:ly)?\b|\b(?:backup|job|run|task|sync) ok\b")
# a state the system moved through by itself, not a change someone made ("Cluster health status changed from
# [YELLOW] to [GREEN]", "state changed to FOLLOWER")
_TRANSITION = re.compile(r"(?i)\b(?:status|state|health|phase|role)\b\W{0,3}(?:\w+\W{1,3}){0,2}?chang(?:ed|ing)\b"
                         r"|\bchanged? (?:state|status)\b")
# an access log's line: a quoted request, its status before or after it (Synapse: '953B 200 "POST /_matrix/... HTTP/1.1"
# "Element/1.11.85"'): its user agents' versions are not ours
_ACCESS_LINE = re.compile(QUOTED_REQUEST)
# a client's user agent in a structured line (MinIO's audit '"userAgent":"MinIO (linux; amd64) minio-go/v7.0.70"',
# "user_agent=curl/8.5.0"), or one read without its field, in its own shape (a platform list, then products:
# "MinIO (linux; amd64) minio-go/v7.0.70", where a long line's piece begins inside the field): the client's
# versions, not ours
_USER_AGENT = re.compile(r"(?i)\buser[-_ ]?agent[\"']?\s*[=:]\s*(?:\"[^\"\n]*\"|'[^'\n]*'|\S+)"
                         r"|(?:[\w.-]+/v?\d[\w.+-]* )?\([^()\n]*;[^()\n]*\)(?: [\w.-]+/v?\d[\w.+-]*)+")

# (what a question says when it asks for the value, what the value looks like in a log line)
VALUE_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    # a release or a build asked for ("which build is it on now?"), not one that failed ("the 9 o'clock release
    # kept crashing")
    "version": (re.compile(r"(?i)\bversions?\b|\b(?:which|what)(?:'s|\s+is|\s+was)?\s+(?:[\w-]+\s+){0,3}?"
                           r"(?:releases?|builds?)\b"), re.compile(_VERSION)),
    # a port asked for ("what port does it listen on?", "on which port?"), not one named ("poking the kubelet port")
    "port": (re.compile(r"(?i)\b(?:which|what)(?:'s| is| was)?\s+(?:[\w-]+\s+){0,3}?ports?\b"
                        r"|\bports? (?:number|is it)\b|\blisten(?:s|ing)? on\b"), re.compile(_PORT)),
    "address": (re.compile(r"(?i)\b(?:hosts?|hostnames?|address(?:es)?|urls?|endpoints?|ips?)\b"
                           r"|\b(?:which|what) (?:\w+ )?brokers?\b(?![ #=-]*\d)"  # "which broker?", not "broker 2"
                           # "which host does it connect to?", not "apps couldnt connect to ldap-02"
                           r"|(?<!n't )(?<!nt )(?<!not )(?<!cannot )(?<!unable to )(?<!failed to )(?<!failing to )"
                           r"\bconnect\w* (?:to|with)\b"),
                re.compile(_ADDRESS)),
    "path": (re.compile(r"(?i)\b(?:paths?|director(?:y|ies)|folders?)\b"), re.compile(_PATH)),
    "recovery": (re.compile(r"(?i)\b(?:c[oa]me|coming|got|get|was|were|is|are|put|brought|bring) back\b"
                            # "when did kea get its lease db back?", not "get back to me"
                            r"|\b(?:get|gets|got|getting|gotten) (?:[\w-]+ ){1,3}back\b"
                            r"(?! (?:to|from|in|on|off|down)\b)"
                            # "is dn07 back?", not "back to failing"
                            r"|\b(?:is|are|was|were) [\w.-]+ back\b(?! (?:to|from|at|in|off|down|on)\b)"
                            r"|\b(?:it|they) c[oa]me up\b"  # "what time did it come up?", not "did an error come up"
                            r"|\bback (?:up|online|in sync|to normal)\b|\brebuilt\b"
                            # "is it up again?", not "is postgres locking up again?" nor "queue backed up again"
                            # "did the zookeeper blip actualy recover?"
                            r"|\brecovered\b|\b(?:did|does|do|has|have) (?:[\w'-]+ ){0,4}recover\b"
                            r"|\b(?:(?<!ing )(?<!ed )up|fine|ok|open|working|loading|running|serving"
                            r"|responding|flowing|processing|accepting|succeeding|passing|going through|taking \w+)"
                            r" again\b"
                            r"|\bback in(?:to)?\b"  # "back in the cluster", "back into rotation"
                            r"|\b(?:connect|log ?in|login|authenticat|join|start|unseal|sync|reach|publish|consum"
                            r"|deliver|send|talk)\w* again\b"
                            # "did it reconnect to the db on its own?", not "it keeps reconnecting"
                            r"|\b(?<!keep )(?<!keeps )(?<!kept )re-?(?:connect|establish|join)(?:ed|s)?\b"
                            # doing its work again ("answering queries again"), not failing again
                            r"|\b(?!(?:fail|crash|break|err|throw|restart|drop|dy|tim|los|reject|refus|complain|spam"
                            r"|warn|panic|hang|stall|leak|flap|evict|kill|oom|throttl|lock|freez|chok|jam|clog|act"
                            r"|play|mess|blow|back|flak)\w*"
                            r"|(?:some|any|no|every)?thing\b|morning\b|evening\b|during\b|string\b)"
                            r"\w+ing(?: \w+)? again\b"
                            r"|\bfinally\b(?! (?:fail|crash|die|broke|went down|gave up))"
                            # "did the hive problem clear up on its own?" ("did it sort itself out?" asks what failed)
                            r"|\b(?:clear(?:ed|s)?|sort(?:ed|s)?|fix(?:ed|es)?|resolv(?:e|ed|es)) (?:up |itself "
                            r"|itself out |out )?(?:on (?:its|their) own|by itself|by themselves)\b"

                            # it stopped going wrong: "when did it stop crash looping?"
                            r"|\bstop(?:ped|s)? (?:crash|fail|restart|flapp|error|throw|reject|refus|dy|time|timing"
                            r"|panick|oom|short[- ]?circuit|throttl|drop|retr(?:y|i)|flood|spam|return\w* (?:errors?"
                            r"|[45]\d\d))\w*"
                            r"|\b(?:able|allowed) to\b[^.?!\n]{1,60}\bagain\b"  # "able to list stuff ... again"
                            # the trouble itself stopped: "when did those early morning 502s on the api stop?"
                            # (read ahead, so that the trouble's words stay for ``_named_outages``)
                            r"|\b(?=(?:[45]\d\ds|errors|timeouts|failures|crashes|exceptions|restarts|retries|rejections"
                            r"|refusals)\b(?: [\w'-]+){0,6}? (?:stop|stopped|end|ended|go away|went away|die down"
                            r"|died down|clear|cleared)\b)"),
                 re.compile(_RECOVERED)),
    # (not a change-management paper: "need it for the change ticket")
    "change": (re.compile(r"(?i)\b(?:chang(?:e|ed|es|ing)|touch(?:ed)?|modif\w*|edit(?:ed)?|tweak\w*|reload\w*"
                          r"|reconfigur\w*)\b"
                          r"(?! (?:tickets?|requests?|records?|windows?|freeze|management|board|cab)\b)"),
               re.compile(_CHANGED)),
    # who stepped in: "who unstuck it and what did they do", "did somebody reboot the box?", "did it come back on its
    # own or did someone have to kick it"
    "actor": (re.compile(r"(?i)\bwho\s+(?:(?:else|actually|finally|eventually)\s+)?(?:fixed|unstuck|restarted"
                         r"|rebooted|bounced|kicked|disabled|enabled|stopped|started|killed|ran|reset"
                         r"|cleared|resolved|got|did|stepped|turned|paused|resumed|deleted|pruned|purged|cleaned"
                         r"|shut|brought|took|pulled|deactivated|activated|rolled|reverted|added|removed|dropped"
                         r"|terminated|promoted|drained|failed)\b"
                         r"|\b(?:did|has|had|have)\s+(?:some(?:one|body)|any(?:one|body)|an? (?:admin|operator|human"
                         r"|person))\s+(?:(?:have|had|need|needed) to\s+)?(?:\w+\s+)?(?:fix|unstick|unstuck|restart"
                         r"|reboot|bounce|kick|step|intervene|clear|reset|disable|poke|nudge)\w*"
                         r"|\bor did (?:some|any)(?:one|body)\b"),
              re.compile(_ACTED)),
    # how many things were left out or retried: "how many files got skipped", "how many rows got rejected", "how many
    # times did argo retry before it gave up" (a job's summary says: "rows rejected = 37", "Non-fatal FD errors: 9",
    # "skipped=312", "(retried 5 times)"); not "how many times did it crash": the crashes are the incidents
    "count": (re.compile(r"(?i)^\W*how many\b[^?.!]{0,80}?\b(?:skip|reject|error|drop|lost|los[te]|retr|time[ds]? "
                         r"out|bounc|abort|miss)\w*"),
              re.compile(_COUNTED)),
    # whether a job or a process got to its end: "did salesdb crash recovery actually finish ok?", "did last night's
    # orders etl finish ok, and what time did it wrap up?" (not "why didn't the backup finish?", nor "did the backup
    # go through ok?", which asks for what went wrong); no line kind: the answer may as well be the incident that
    # stopped it
    "completion": (re.compile(r"(?i)\b(?:did|has|have|had|was|were)\b[^?.!,;]{0,60}?\b(?:finish(?:ed)?|complete[ds]?"
                              r"|succeed(?:ed)?|wrap(?:ped)? up|run to (?:the )?end)\b"),
                   re.compile(_COMPLETED)),
    "leader": (re.compile(r"(?i)\bwho(?:'s| is| was)? (?:the )?(?:new |current )?(?:leader|primary|master)\b"
                          r"|\bwho (?:became|becomes|took over|is now|got elected)\b"
                          r"|\bwhich \w+ (?:is|was|became) (?:the )?(?:new |now )?(?:leader|primary|master|active)\b"
                          r"|\b(?:new|current) (?:leader|primary|master)\b|\b(?:leader|primary|master) now\b"
                          r"|\belected\b"),
               re.compile(_LEADER)),
}


_COUNT = re.compile(r"(?i)^\W*how (?:many|much)\b")
# "it never came back, why?", "why didn't it come back up?", "why couldnt the devices get back on?" (no apostrophe),
# "it went down and wouldnt start back up, why",
# "it came back by itself, why did it crash?", "... and
# came back up, what crashed it?", "it fell over and came back by itself, why?": what went wrong, not a comeback
_NO_COMEBACK = re.compile(r"(?i)\b(?:never|not|\w+n't"
                          r"|(?:couldn|wouldn|didn|doesn|don|isn|wasn|weren|hasn|haven|won|can)t)"
                          r"\s+(?:\w+\s+){0,2}?(?:c[oa]me|coming|got|get|gotten|been|be|is"
                          r"|was|were|start\w*|boot\w*) (?:back|up)\b"  # "why didn't it come up?"
                          r"|\bwhy (?:did|does|do|was|were|is|has|had|would) (?:\S+ ){1,4}?(?:crash|die|fail|panic"
                          r"|go down|went down|get killed|got killed|exit|restart|break|oom)\w*"
                          # "... and came back up, what crashed it?"
                          r"|\bwhat (?:\w+ )?(?:killed|crashed|caused|broke|(?:took|taken|brought) (?:\w+ )?down)\b"
                          # "it fell over twice and came back by itself, why?", "it fell over around 2pm and came
                          # back on its own, what happened?", "... came back by itself?? what happened"
                          r"|\b(?:crash\w*|died|fell over|went down|restarted|failed|broke|panick\w*|oom\w*)\b"
                          r"(?:[^?!.\n]*\bwhy\W*$|[^?!.\n]{0,80}\bback\b[^\n]{0,40}?"
                          r"\b(?:why|what happened|what went wrong)\b)")


# "it restarted and nobody touched it, why?", "we didn't change anything": no change to look for
_CHANGE_VERB = r"(?:touch|chang|modif|edit|tweak|reconfigur)\w*"
_NO_CHANGE = re.compile(r"(?i)\b(?:nobody|no one|noone|nothing)\b[^.?!\n]{0,20}?\b" + _CHANGE_VERB
                        + r"|\b(?:didn'?t|did not|haven'?t|have not|hasn'?t|has not|never)\s+(?:\w+\s+){0,2}?"
                        + _CHANGE_VERB)


# the event a question places itself against, up to where it asks ("right after we published the new version every
# invocation failed, why?": "we published the new version every invocation failed"); not the question's own "when did"
_EVENT_CLAUSE = re.compile(r"(?i)(?:^|(?<=\S ))\b(?:after|since|once|before|when)\s+"
                           r"(?!(?:did|do|does|was|were|is|are|has|have|had|will|would|could|can)\b)"
                           r"[^?!.;,\n]{1,120}?(?=\s+(?:what|which|who|where|how|why|is|are|was|were|did|does|do)\b"
                           r"|[?!.;,\n]|$)")

# a clause that asks whether something named caused the trouble ("did the config reload break it??", "could the
# deploy have caused this?", "was it the upgrade that broke it?"): what it names is a suspect, not a value asked for
# (within one clause: "did the zookeeper blip recover or is replica n1 still broken" asks for the comeback)
_SUSPECTED_CAUSE = re.compile(r"(?i)\b(?:did|does|could|would|might|can|may|was it|is it)\s+"
                              r"(?:the|that|this|our|a|an|my|their)\s+(?:(?!\bor\b)[^?!.;,\n]){1,60}?"
                              r"\b(?:break|broke|broken|kill|killed|caus\w*|take|took|trigger\w*|knock\w*|crash\w*|mess\w*)\b")


def asked_values(question: str) -> list[str]:
    """The kinds of value (keys of ``VALUE_KINDS``) the question asks for, in ``VALUE_KINDS`` order, read
    outside the event it places itself against (``_EVENT_CLAUSE``: "after we published the new version" asks
    for no version) and outside what it suspects of causing the trouble (``_SUSPECTED_CAUSE``: "did the config
    reload break it??" asks for no change); a question that asks how many asks for a count, not a comeback ("how
    many mutations did it replay on the way back up?"), one that says it never came back asks what went wrong,
    and one that says nobody touched it asks for no change."""
    head = question[:MAX_QUESTION_CHARS]
    asking = _SUSPECTED_CAUSE.sub(" ", _EVENT_CLAUSE.sub(" ", head))
    kinds = [kind for kind, (asked, _) in VALUE_KINDS.items() if asked.search(asking)]
    if _COUNT.search(head) or _NO_COMEBACK.search(head):
        kinds = [kind for kind in kinds if kind != "recovery"]
    return [kind for kind in kinds if kind != "change"] if _NO_CHANGE.search(head) else kinds


LINE_KINDS = frozenset({"recovery", "change", "leader", "version"})  # kinds of line asked for instead of an incident


def asks_for_a_line_not_an_incident(question: str) -> bool:
    """The question asks when or whether a service came back, what was changed, who leads now, which
    version runs ("recovery", "change", "leader", "version" in ``VALUE_KINDS``: "what version is it on since
    the restart?"), what it logged last before it died (``asks_last_words``) or when it was last restarted
    (``asks_when_restarted``): it wants that line, not the incident that its words also describe."""
    return bool(LINE_KINDS & set(asked_values(question))) or asks_last_words(
        question) or asks_when_restarted(question)


# "when did dovecot last get restarted?", "when was the last reboot?"; not "why did it restart?", nor "errors since
# the last restart"
_WHEN_RESTARTED = re.compile(r"(?i)\bwhen (?:did|was|were|has|had) (?:[\w.-]+ ){0,3}?(?:last |most recently )?"
                             r"(?:get |got |been )?re-?(?:start|boot)(?:ed)?\b"
                             r"|\bwhen (?:was|is) (?:the|its|it'?s) (?:last|latest|most recent) re-?(?:start|boot)\b")
_CAUSE = re.compile(r"(?i)\bwhy\b|\bwhat (?:\w+ )?(?:killed|crashed|caused|broke)\b|\bcause\b")


def asks_when_restarted(question: str) -> bool:
    """The question asks when a service was (last) restarted, not why: the start-up lines again (``_restarts``)."""
    head = question[:MAX_QUESTION_CHARS]
    return bool(_WHEN_RESTARTED.search(head)) and not _CAUSE.search(head)


# "what was the last thing the worker logged before it died?", "last lines before it restarted"
_LAST_WORDS = re.compile(r"(?i)\blast (?:thing|things|line|lines|message|messages|words|entry|entries|log \w+)\b"
                         r"[^?!\n]{0,60}\bbefore (?:it |the \w+ |\w+ )?(?:died|crash\w*|restart\w*|went down"
                         r"|was killed|got killed|exited|stopped|fell over|oom\w*|rebooted|dies)")


def asks_last_words(question: str) -> bool:
    """The question asks what a service logged last before it died: the lines before it started again."""
    return bool(_LAST_WORDS.search(question[:MAX_QUESTION_CHARS]))


COMEBACK_MINUTES = 60  # after a time named with a question about a comeback, where the comeback is looked for


def time_placement(question: str) -> tuple[bool, int]:
    """How a time the question names places its answer: (whether the time is only where the answer ends,
    minutes the answer may lie after it). A change or a leader before or after a time ("was anything
    changed before the 4am outage?") lies anywhere on that side: (True, 0); a comeback after a time the
    question names ("it dropped off around 5:20, when did it come back?") within ``COMEBACK_MINUTES``
    after it: (False, 60); anything else at it: (False, 0)."""
    kinds = set(asked_values(question))
    anchor = question_anchor(question)
    if anchor is not None and is_timed(anchor) and {"change", "leader"} & kinds:
        return True, 0
    return False, COMEBACK_MINUTES if "recovery" in kinds else 0


# a notice of a release that is not running: "A new release of Traefik has been found: 3.0.4. Please consider updating."
_NEWER = re.compile(r"(?i)\bnew(?:er)? (?:release|version)s?\b[^\n]{0,40}\b(?:found|available|out)\b"
                    r"|\b(?:update|upgrade) (?:is )?available\b|\bconsider (?:updating|upgrading)\b")


@functools.lru_cache(maxsize=65_536)
def states_value(kind: str, text: str) -> bool:
    """The text holds a value of that kind (``VALUE_KINDS``); a version, not in a user agent's field and on a line
    that is not an access log's request (whose user agents name their own versions), a stack frame (its libraries')
    nor a notice of a newer release (``_NEWER``); a change, on a line that is not a state the system moved through
    (``_TRANSITION``)."""
    pattern = VALUE_KINDS[kind][1]
    if kind == "version":
        return any(pattern.search(_USER_AGENT.sub(" ", line)) for line in text.split("\n")
                   if not _ACCESS_LINE.search(line) and not is_stack_trace_line(line) and not _NEWER.search(line))
    if kind == "change":
        return any(pattern.search(line) and not _TRANSITION.search(line) for line in text.split("\n"))
    return bool(pattern.search(text))


_WHO = re.compile(r"(?i)^\W*who\b")  # a question that asks first of all who acted


def lookup_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in [0, 1]
    """For a question that asks for a kind of value: the share of the asked kinds that each log chunk
    states (all of them for a chunk that says someone acted, when the question starts with "who": ``_WHO``); zeros for
    other questions and for chunks of documents that are not logs."""
    scores = np.zeros(len(chunks), np.float32)
    kinds = asked_values(question)
    if "actor" in kinds and ("recovery" in kinds or not any(
            chunk.document.kind == "log" and states_value("actor", chunk.text) for chunk in chunks)):
        # "did it come back on its own or did someone kick it?": the comeback says, and what was done before it is
        # quoted with its incident (passages.py); nor does anyone who acted when the log names nobody
        kinds.remove("actor")
    # the last words before a start, or the starts (the last in full, earlier ones half), count as one more kind:
    # the loop below divides by len(kinds) + 1
    last_words = asks_last_words(question)
    start_kind = last_words or asks_when_restarted(question)
    for indexes in logs_in_file_order(chunks) if start_kind else ():
        if last_words:
            scores[_last_words(chunks, indexes)] = 1.0
        else:
            starts = [indexes[position] for position in _restarts(chunks, indexes)]
            scores[starts] = 0.5
            scores[starts[-1:]] = 1.0
    if not kinds:
        return scores
    asks_who = bool(_WHO.match(question))
    comebacks = _comebacks(chunks, question) if "recovery" in kinds else {}
    resettings = _changed_settings(chunks) if "change" in kinds else set()
    relative = {kind: _relative(question, kind, chunks, resettings) for kind in kinds if kind in ("change", "leader")}
    if "version" in kinds:
        versions = _named_versions(question, chunks)
        if _NOW.search(question[:MAX_QUESTION_CHARS]) or _AFTER_UPGRADE.search(question[:MAX_QUESTION_CHARS]):
            latest = _latest_versions(chunks)
            versions = {i: score * (versions or {}).get(i, 1.0) for i, score in latest.items()}
        if versions is not None:
            relative["version"] = versions
    for index, chunk in enumerate(chunks):
        if chunk.document.kind != "log":
            continue
        for kind in kinds:
            placed = relative.get(kind)
            if kind == "recovery":
                scores[index] += comebacks.get(index, 0.5 if states_value(kind, chunk.text) else 0.0)
            elif placed is not None:
                scores[index] += placed.get(index, 0.0)
            elif _states(kind, chunks, index, resettings):
                scores[index] += 1.0
        scores[index] /= len(kinds) + start_kind
        if "actor" in kinds and asks_who and states_value("actor", chunk.text):
            scores[index] = 1.0  # "who brought it back, and did they change anything?": who, first of all
    return scores


# a comeback asked for as the one that lasted ("when did the nas come back for good?"): the last, it flapped before
_FOR_GOOD = re.compile(r"(?i)\bfor good\b|\bonce and for all\b|\bstay(?:ed|s)? (?:up|back|stable)\b")
# a version asked for as it is now ("now", or what something "is running"): the last one the log states; so too one
# asked for after an upgrade ("which envoy version is the edge on after this afternoons upgrade?")
_NOW = re.compile(r"(?i)\b(?:now|rn|currently|current|at the moment|these days|live)\b"
                  r"|\b(?:is|are)\s+(?:[\w.-]+\s+){0,3}?run+ing\b")  # "which openvpn version is gw1 running"
_UPGRADES = r"(?:upgrad\w*|updat\w*|deploy\w*|patch\w*|releas\w*|roll ?outs?|rolled out|install\w*|bump\w*)"
_AFTER_UPGRADE = re.compile(r"(?i)\b(?:after|since|following)\b[^?!.;,\n]{0,60}?\b" + _UPGRADES
                            # what an upgrade brought: "what version did the afternoon deploy put on history-2"
                            + r"|\b" + _UPGRADES + r"\s+(?:put|puts|bring|brings|brought|land|landed|leave|left|give"
                            r"|gave|ship|shipped|went (?:thru|through|out|in)|got (?:thru|through|out|in))\b")


def _latest_versions(chunks: Sequence[Chunk]) -> dict[int, float]:
    """The chunks that state a version: those with the last version of its kind in its log
    (``_version_kinds``) in full, the others half. "Which build is it on now?" after a crash loop of the build
    before it is the last start's; a start-up that names the runtime's version beside its own keeps both kinds;
    an upgrade that changed the log's format ("Traefik version 2.11.2" in logfmt, then "INF Traefik version
    3.0.4") is still one kind."""
    scores: dict[int, float] = {}
    for ordered in logs_in_file_order(chunks):
        stating = [(i, _text_version_kinds(chunks[i].text)) for i in ordered if states_value("version", chunks[i].text)]
        last = {kind: i for i, kinds in stating for kind in kinds}
        scores.update((i, 1.0 if any(last[kind] == i for kind in kinds) else 0.5) for i, kinds in stating)
    return scores


_LETTERS = re.compile(r"\b[A-Za-z]+\b")  # whole words of letters: none of a commit hash's ("4be81d2")
_VERSION_WORDS = frozenset(("version", "versions", "release", "releases", "build", "builds", "running", "which",
                            "what", "the", "and", "now", "currently", "current"))


def _named_versions(question: str, chunks: Sequence[Chunk]) -> dict[int, float] | None:
    """For a question that names what it asks the version of ("which tomcat version is it running?"): the
    chunks that state a version of a kind (``_version_kinds``) holding one of the question's words in full,
    the other chunks that state one half (the Tomcat Native library's "[1.2.35]" is not Tomcat's version);
    None when no stated version is of a kind the question names."""
    asked = _named_words(question)
    stating = {i: _text_version_kinds(chunk.text) for i, chunk in enumerate(chunks)
               if chunk.document.kind == "log" and states_value("version", chunk.text)}
    named = {i for i, kinds in stating.items() if any(asked & set(kind.split()) for kind in kinds)}
    return {i: 1.0 if i in named else 0.5 for i in stating} if named else None


def names_version_of(question: str, line: str) -> bool:
    """The line states a version of what the question names ("which build is the erp sql server on?": "Microsoft
    SQL Server 2022 (RTM-CU12) ... 16.0.4115.5", not the Ubuntu release on the line after it)."""
    asked = _named_words(question)
    return any(asked & set(kind.split()) for kind in _version_kinds(line))


def _named_words(question: str) -> set[str]:
    """The question's words that may name what it asks the version of."""
    return {w for w in _LETTERS.findall(question[:MAX_QUESTION_CHARS].lower()) if len(w) > 2} - _VERSION_WORDS


@functools.lru_cache(maxsize=65_536)
def _text_version_kinds(text: str) -> frozenset[str]:
    """The kinds (``_version_kinds``) of the versions the lines of a text state."""
    return frozenset(kind for line in text.split("\n") if states_value("version", line)
                     for kind in _version_kinds(line))


def _version_kinds(line: str) -> set[str]:
    """What each version a line states is the version of: the words of it and the two words before it,
    whatever the line's format ("traefik version" for both 'msg="Traefik version 2.11.2 built on ..."' and
    "INF Traefik version 3.0.4 built on ...", "java" for "Java 21.0.2")."""
    return {" ".join([*_LETTERS.findall(line[:found.start()])[-2:], *_LETTERS.findall(found.group(0))]).lower()
            for found in VALUE_KINDS["version"][1].finditer(_USER_AGENT.sub(" ", line))}


def _states(kind: str, chunks: Sequence[Chunk], index: int, resettings: set[int]) -> bool:
    """The chunk states a value of that kind; a change also by a line of settings (``resettings``)."""
    return states_value(kind, chunks[index].text) or (kind == "change" and index in resettings)


def _relative(question: str, kind: str, chunks: Sequence[Chunk], resettings: set[int]) -> dict[int, float] | None:
    """For a change or leader asked for before or after an event: the chunks that state one (for a change,
    also ``resettings``: ``_changed_settings``), scored by where they lie against it (the module
    docstring); None when the question names no event."""
    anchor = question_anchor(question)
    if anchor is None:
        return None
    scores: dict[int, float] = {}
    for ordered in logs_in_file_order(chunks):
        at = anchor_position(anchor, chunks, ordered)
        stating = [p for p, i in enumerate(ordered) if _states(kind, chunks, i, resettings)]
        if at is None:
            scores.update((ordered[p], 1.0) for p in stating)
            continue
        near = [p for p in stating if p <= at] if anchor.side == "before" else [p for p in stating if p >= at]
        nearest = near[-1:] if anchor.side == "before" else near[:1]
        for p in stating:
            scores[ordered[p]] = 1.0 if p in nearest else 0.5 if p in near else 0.25
    return scores


SETTING_LINE_REPEATS = 4  # a line of settings ("concurrency: 4") whose kind the log repeats at most this often
# (a start-up banner, once a start; a pool line that logs its size now and then is no setting) is compared with the
# one before it
# a field: key=value, "key": value (JSON), key: value (a banner's "concurrency: 4"; not file.java:153)
_SETTING = re.compile(r"(?:^|[\s{,\[(])\"?([A-Za-z][\w.-]{1,40})(?:\"?=|\":\s?|: )\"?([^\s,\"{}\[\]()]{1,80})")
# the values a setting takes: a number, a size, a version, a switch (not an id, an address, a message)
_SETTING_VALUE = re.compile(r"(?i)^(?:v?\d+(?:[.,]\d+)*(?:[a-z%]{1,3})?|true|false|on|off|yes|no|enabled|disabled)$")
# fields that differ from one line to the next by nature, not because someone changed a setting
_VOLATILE = re.compile(r"(?i:^(?:\w*[._-])?(?:pid|tid|jid|id|ids|uuid|ts|time|timestamp|date|at|elapsed|took|duration"
                       r"|latency|uptime|seq|count|size|bytes|total|attempts?|retry\w*|port|line|offset|index"
                       r"|term|epoch|generation|lag|pending|ops|span\w*|trace\w*|req\w*)$)"
                       r"|(?<=[a-z])(?:Id|Ids|Ms|Ns|Us|Sec|Secs|Seconds|Bytes|Count|Total|Time|At|Size)$")  # jobId


def _changed_settings(chunks: Sequence[Chunk]) -> set[int]:
    """Log chunks with a line of settings that says something other than the line of its kind before it:
    a restart's banner with ``concurrency: 8`` where the last start said 4, ``release=v4.13.0`` after
    ``release=v4.12.3``. No line says "changed": comparing the two banners does. Lines of one kind share a
    template (``_settings_lines``), and settings are told from measurements by how they vary: the log's
    candidates hold 2 to ``SETTING_LINE_REPEATS`` lines of the kind and, when more than 2, each field
    takes some value twice (a banner says 4, 8, 4; a periodic "waiting": 5, "failed": 55 line counts up)."""
    found: set[int] = set()
    for ordered in logs_in_file_order(chunks):
        kinds: dict[str, list[dict[str, str]]] = {}
        for index in ordered:
            for template, fields in _settings_lines(chunks[index].text):
                kinds.setdefault(template, []).append(fields)
        settings = {template for template, lines in kinds.items() if _are_settings(lines)}
        last: dict[str, dict[str, str]] = {}
        for index in ordered:
            for template, fields in _settings_lines(chunks[index].text):
                if template not in settings:
                    continue
                before = last.get(template)
                if before is not None and any(before.get(key, value) != value for key, value in fields.items()):
                    found.add(index)
                last[template] = fields
    return found


def changed_setting_lines(document: Document, lines: Sequence[str]) -> set[int]:
    """Which of these lines of a log (in file order) say other settings than the line of their kind before
    them (``_changed_settings``, line by line): the ``concurrency: 8`` of a restart's banner where the last
    start said 4."""
    return _changed_settings([Chunk(document, line, n, n) for n, line in enumerate(lines)])


def _are_settings(lines: list[dict[str, str]]) -> bool:
    """Lines of one kind state settings, not measurements (``_changed_settings``)."""
    if not 2 <= len(lines) <= SETTING_LINE_REPEATS:
        return False
    if len(lines) == 2:
        return True
    values: dict[str, list[str]] = {}
    for fields in lines:
        for key, value in fields.items():
            values.setdefault(key, []).append(value)
    return all(len(set(seen)) < len(seen) for seen in values.values())


@functools.lru_cache(maxsize=65_536)
def _settings_lines(text: str) -> tuple[tuple[str, dict[str, str]], ...]:
    """The lines of a log text that say nothing is wrong and hold fields that are not ``_VOLATILE``:
    (template, {key: value}); the template is the line's with every field's value masked."""
    out = []
    for line in text.split("\n"):
        if ("=" not in line and ":" not in line) or line_severity(line) != Severity.NONE:
            continue
        head = line[:2000]
        fields = {key.lower(): value for key, value in _SETTING.findall(head)
                  if _SETTING_VALUE.match(value) and not _VOLATILE.search(key)}
        if fields:
            out.append((line_template(_SETTING.sub(_masked, head)), fields))
    return tuple(out)


def _masked(field: re.Match[str]) -> str:
    return field.group(0)[:field.start(2) - field.start(0)] + "<v>"


def _comebacks(chunks: Sequence[Chunk], question: str) -> dict[int, float]:
    """The log chunks that state the recovery after an incident chunk (warnings or worse), each log read in
    file order: between an incident and the next one, the chunk that says the service is ready (``_READY``:
    ``ready for connections``, ``listening``...; the last of a start-up's burst of them, ``_first_ready``)
    or, without one, the first that states any
    recovery (``recovered``, ``succeeded``, a 2xx): the comeback, not the first start-up, nor every later
    good line, nor a crash recovery's progress lines before the service is up (when a warning cuts them,
    "found invalid messages", and a line that says the service is ready follows, that line).
    When the question names one party of the log ("when did billing connect again?", ``_party``), only
    the chunks that name it are read, its own failures and comebacks (unless none comes back), and the
    comeback after its worst outage (the most severe incidents since the comeback before, then the most of
    them) weighs 1, the others ``MINOR_COMEBACK`` (a client that reconnected after one warning); so too when
    the question asks for the comeback after a crash (``_AFTER_CRASH``). Recovery lines between an error and
    its comeback are its progress (``PROGRESS``). A start after a crash that the same crash ends again is
    a crash loop going on, no comeback, when some start after a crash stayed up (``_restarts_after_crashes``).
    When the question names a time ("it dropped off around 5:20, when did it come back?"), the first comeback
    after it weighs 1 and the others ``MINOR_COMEBACK``; when it asks about now ("is dn07 back now?"), the last
    one weighs 1 and the others ``EARLIER_COMEBACK``. Else every comeback weighs 1; but when the question
    asks when crashes stopped (``_CRASHES_STOPPED``) and the service started after a crash and stayed up,
    that start is the answer and the other comebacks (a client that reconnected) weigh nothing."""
    found: dict[int, float] = {}
    asked = asked_spans(question)
    for indexes in logs_in_file_order(chunks):
        party = _party(question, chunks, indexes)
        read = [i for i in indexes if party & text_words(chunks[i].text)]
        restarts = _restarts_after_crashes(chunks, indexes)
        held = {index for index, stayed in restarts.items() if stayed}
        outages = _log_comebacks(chunks, read, _held_restarts(chunks, read)) if party else {}
        if not outages:  # no party named, or none of its lines comes back: the whole log
            party, read, outages = frozenset(), indexes, _log_comebacks(chunks, indexes, held)
        if held:  # a start that the same crash ended at once did not bring it back
            outages = {index: key for index, key in outages.items() if restarts.get(index, True)} or outages
        if outages and _FOR_GOOD.search(question[:MAX_QUESTION_CHARS]):  # "when did it come back for good?": the
            last = max(outages, key=lambda index: (chunks[index].line_start, index))  # last, it flapped before
            found.update((index, 1.0 if index == last else EARLIER_COMEBACK) for index in outages)
            continue
        if asked:  # "it dropped off around 5:20, when did it come back?": the first comeback after then
            first = _first_after(chunks, list(outages), min(start for start, _ in asked))
            found.update((index, 1.0 if index == first else MINOR_COMEBACK) for index in outages)
            continue
        if outages and _NOW.search(question[:MAX_QUESTION_CHARS]):  # "is it back now?": since the last outage
            last = max(outages, key=lambda index: (chunks[index].line_start, index))
            found.update((index, 1.0 if index == last else EARLIER_COMEBACK) for index in outages)
            continue
        found.update((index, PROGRESS) for index in _progress(chunks, read, set(outages)))
        if party or _AFTER_CRASH.search(question):
            worst = max(outages.values(), default=None)
            found.update((index, 1.0 if key == worst else MINOR_COMEBACK) for index, key in outages.items())
        else:
            named = _named_outages(question, chunks, read, set(outages))
            found.update((index, 1.0 if not named or index in named else MINOR_COMEBACK) for index in outages)
        # when crashes stopped: the start that stayed up, not a reconnect
        if _CRASHES_STOPPED.search(question[:MAX_QUESTION_CHARS]) and held & outages.keys():
            found.update((index, 0.0) for index in outages if index not in held)
    return found


_WHEN_WORDS = frozenset(("time", "start", "started", "begin", "began", "long"))  # of "what time did it start taking
# jobs again?": they name no outage


def _named_outages(question: str, chunks: Sequence[Chunk], indexes: list[int], comebacks: set[int]) -> set[int]:
    """The comebacks (of one log's chunks in file order) after the outage whose incident chunks share the
    most of the question's words, each weighted by its rarity among these chunks and compared by its first
    ``PREFIX`` letters ("stop short-circuiting the carrier calls" meets "BrokenCircuitException" and
    "carrier gateway unavailable", not the database timeouts hours before; the words of the log's own name,
    its service's, name every outage of it); none when no word meets one."""
    head = VALUE_KINDS["recovery"][0].sub(" ", question[:MAX_QUESTION_CHARS])
    words = {_singular(w)[:PREFIX] for w in text_words(head) if w not in FUNCTION_WORDS | _WHEN_WORDS}
    words -= word_prefixes(chunks[indexes[0]].document.title) if indexes else set()  # the service itself
    if not words:
        return set()
    texts = {i: word_prefixes(chunks[i].text) for i in indexes}
    weights = {w: math.log((len(texts) + 1) / (1 + sum(w in t for t in texts.values()))) for w in words}
    scores: dict[int, float] = {}
    outage: list[int] = []  # the incident chunks since the last comeback
    for index in indexes:
        if index in comebacks:
            scores[index] = max((sum(weights[w] for w in words if w in texts[i]) for i in outage), default=0.0)
            outage = []
        elif text_severity(chunks[index].text) >= Severity.WARNING:
            outage.append(index)
    top = max(scores.values(), default=0.0)
    return {index for index, score in scores.items() if score == top} if top > 0 else set()


def _singular(word: str) -> str:
    """A status code's plural as the code: "502s" -> "502"."""
    return word[:-1] if word.endswith("s") and word[:-1].isdigit() else word


PROGRESS = 0.25  # of a recovery line's weight, when it comes between an incident and the comeback after it: the
# recovery's progress ("Recovering unflushed segment ... 1/1 recovered"), not the service back


def _progress(chunks: Sequence[Chunk], indexes: list[int], comebacks: set[int]) -> set[int]:
    """The chunks of one log (in file order) that state a recovery between an error and the comeback after
    it (``_log_comebacks``; a warning amid them, "found invalid messages", cuts nothing)."""
    found: set[int] = set()
    since: list[int] = []  # recovery chunks since the last error chunk
    for index in indexes:
        if index in comebacks:
            found.update(since)
            since = []
        elif text_severity(chunks[index].text) >= Severity.ERROR:
            since = []
        elif states_value("recovery", chunks[index].text):
            since.append(index)
    return found


# "serving again after that crash?": the comeback after the worst outage (not a restart's: "after that restart" may
# be an upgrade's)
_AFTER_CRASH = re.compile(r"(?i)\b(?:after|since)\s+(?:(?:the|that|this|its|it|a)\s+)?(?:\w+\s+)?(?:crash\w*|died"
                          r"|death|oom\w*|got killed|was killed|fell over)")
# "when did it stop crash looping?", "stopped restarting": asks for the start after the last crash
_CRASHES_STOPPED = re.compile(r"(?i)\bstop(?:ped|s)? (?:crash|restart|dy|die|panick|oom|reboot)\w*")


def _first_after(chunks: Sequence[Chunk], indexes: list[int], minute: int) -> int | None:
    """Of these chunks, the one whose time comes soonest after ``minute`` (of the day, around the clock)."""
    spans = chunk_spans([chunks[i] for i in indexes])
    if not spans:
        return None
    return indexes[min(spans, key=lambda n: ((spans[n][0] - minute) % DAY, n))]


def _log_comebacks(chunks: Sequence[Chunk], indexes: list[int], restarts: set[int]
                   ) -> dict[int, tuple[int, int]]:
    """``_comebacks`` of one log's chunks in file order, each with the outage before it: (the worst
    severity, the number) of the incident chunks since the comeback before. ``restarts``: the starts after a
    crash that stayed up (``_held_restarts`` of these chunks)."""
    outages: dict[int, tuple[int, int]] = {}
    outage: list[int] = []  # the severities of the incident chunks since the last comeback
    since: list[int] = []  # the recovery chunks since the last incident
    pending: dict[int, tuple[int, int]] = {}  # recoveries cut short by a warning, none saying the service is
    # ready, with their outages
    failing: set[tuple[str, ...]] = set()  # what the outage's lines failed to do (``_operations``)
    for index in [*indexes, -1]:  # -1: the end of the log settles what is left
        severity = text_severity(chunks[index].text) if index >= 0 else Severity.NONE
        if severity == Severity.WARNING and _amid_start_up(chunks, since, index):
            continue  # a start-up's own warning (a deprecated setting) between its first "listening" and "started"
        if index < 0 or severity >= Severity.WARNING:
            if index >= 0 and severity == Severity.WARNING and since and not _says_ready(chunks, since):
                pending.update(dict.fromkeys(_first_ready(chunks, since), _outage(outage)))  # unless a "ready"
                outage, failing = [], set()  # line follows
            else:
                settled = _settled(chunks, list(pending), since)
                dropped = [key for i, key in pending.items() if i not in settled]  # the ready line's outage too
                for i in settled:
                    outages[i] = pending.get(i) or _outage(outage, *dropped)
                outage, failing = ([], set()) if settled else (outage, failing)
                pending = {}
            if index >= 0:
                outage.append(int(severity))
                failing |= _operations(chunks[index].text)
            since = []
        elif outage and (states_value("recovery", chunks[index].text) or index in restarts
                         or _does_again(chunks[index].text, failing)):
            since.append(index)
    return outages


# the word that says a line's operation failed, and a line's level as a word of its own
_FAILED_WORD = re.compile(r"(?i)\b(?:failed|failure|errored|refused|timed out|timeout|unavailable|denied|rejected"
                          r"|unreachable)\b")
_LEVEL_WORD = re.compile(r"(?i)^\[?(?:warn(?:ing)?|wrn|error|err|fatal|ftl|crit(?:ical)?|info|inf|notice)\]?:?$")
MIN_OPERATION_WORDS = 2  # words of a failing line's operation, after its source ("gitlab-runner[1187]:")


@functools.lru_cache(maxsize=65_536)
def _operations(text: str) -> frozenset[tuple[str, ...]]:
    """What a log text's lines were doing when they failed: each line's template (``line_template``) up to
    the word that says it failed, without its level ("Checking for jobs..." of gitlab-runner's "WARNING:
    Checking for jobs... failed"), when that names at least ``MIN_OPERATION_WORDS`` words after the line's
    source (not the "Job" of "Job failed")."""
    found = set()
    for line in text.split("\n"):
        template = line_template(line)
        failed = _FAILED_WORD.search(template)
        if failed is None:
            continue
        tokens = [token for token in template[:failed.start()].split() if not _LEVEL_WORD.match(token)]
        after_source = tokens[_source_length(tokens):]
        if sum(token != "<*>" and any(c.isalpha() for c in token) for token in after_source) >= MIN_OPERATION_WORDS:
            found.add(tuple(tokens))
    return frozenset(found)


def _does_again(text: str, operations: set[tuple[str, ...]]) -> bool:
    """A line of the text that says nothing is wrong does one of these failed operations (``_operations``)
    again: gitlab-runner's "Checking for jobs... received" after its "Checking for jobs... failed"; FreeRADIUS's
    "rlm_sql (sql): Opening additional connection (22)" after its "rlm_sql (sql): Opening connection failed"
    (``_does``)."""
    return bool(operations) and any(_does(tokens, operation)
                                    for tokens in _quiet_lines(text) for operation in operations)


def _source_length(tokens: Sequence[str]) -> int:
    """How many of a line's words name its source: those up to its last word that ends with ":"
    ("gitlab-runner[1187]:", "rlm_sql (sql):"); 0 when none does."""
    return max((n + 1 for n, token in enumerate(tokens) if token.endswith(":")), default=0)


_RETRYING = frozenset(("again", "retry", "retrying", "still"))  # "Connecting again to db" tries, it did not do it


def _does(tokens: tuple[str, ...], operation: tuple[str, ...]) -> bool:
    """The line's words start with the operation's: its source the same ("rlm_sql (sql):"), then its words,
    with at most one more word between two of them ("Opening additional connection" does "Opening connection"),
    not one that says it tries again (``_RETRYING``)."""
    source = _source_length(operation)
    words, rest = operation[source:], tokens[source:]
    if tokens[:source] != operation[:source]:
        return False
    return rest[:len(words)] == words or any(
        rest[:n] == words[:n] and rest[n].lower() not in _RETRYING and rest[n + 1:len(words) + 1] == words[n:]
        for n in range(1, min(len(words), len(rest))))


@functools.lru_cache(maxsize=65_536)
def _quiet_lines(text: str) -> tuple[tuple[str, ...], ...]:
    """The words of the template of each line of a log text that says nothing is wrong, without its level."""
    return tuple(tuple(token for token in line_template(line).split() if not _LEVEL_WORD.match(token))
                 for line in text.split("\n") if line_severity(line) == Severity.NONE)


_TEMPLATE_WORD = re.compile(r"[^\s<>*]+")
STARTUP_SHARE = 0.1  # of a log's chunks, at most, that repeat a line of its start-up (with at least 3 allowed):
# a banner comes once a start; a log that opens amid its requests has no start-up to find


def _restarts(chunks: Sequence[Chunk], indexes: list[int]) -> list[int]:
    """Positions in ``indexes`` (one log's chunks, in file order) of the chunks where the service started
    again: the first of each run of chunks that repeat a line of the log's own start-up (``_opening``), as
    rare as a banner is (``STARTUP_SHARE``). None when the log does not open with its start-up."""
    opening = _opening(chunks, indexes)
    if not opening:
        return []
    words = {max(_TEMPLATE_WORD.findall(template), key=len, default=template) for template in opening}
    starts = [position for position, index in enumerate(indexes) if position > 0
              and any(word in chunks[index].text for word in words)  # a substring scan first: most chunks fail it
              and not opening.isdisjoint(line_template(line) for line in chunks[index].text.split("\n"))]
    if len(starts) > max(3, STARTUP_SHARE * len(indexes)):
        return []
    return [position for position in starts if position - 1 not in starts]


def _opening(chunks: Sequence[Chunk], indexes: list[int]) -> set[str]:
    """The templates of a log's start-up: its first chunk's lines that say nothing is wrong (CoreDNS's
    ``CoreDNS-1.11.1``, Sidekiq's "Booted Rails 7.1.3 application"); none when ``indexes`` (one log's chunks,
    in file order) do not start at the log's first line."""
    if not indexes or chunks[indexes[0]].line_start > chunks[indexes[0]].document.first_line:
        return set()
    return {line_template(line) for line in chunks[indexes[0]].text.split("\n")
            if line.strip() and line_severity(line) == Severity.NONE}


def _last_words(chunks: Sequence[Chunk], indexes: list[int]) -> list[int]:
    """The chunks that hold the last line a log's service wrote before each start after the first
    (``_restarts``): the line before the start-up's first line, in the start's chunk or the one before."""
    opening = _opening(chunks, indexes)
    found = []
    for position in _restarts(chunks, indexes):
        first_line = chunks[indexes[position]].text.split("\n", 1)[0]
        found.append(indexes[position - 1] if line_template(first_line) in opening else indexes[position])
    return found


def _restarts_after_crashes(chunks: Sequence[Chunk], indexes: list[int]) -> dict[int, bool]:
    """The chunks of one log (in file order) where the service started again after a crash (``_restarts``):
    right after an incident chunk (the one the process died with; not a reload amid ordinary lines), each
    with whether it stayed up: the first incident after it is none of those since the start before. A start
    that the same crash ends is a crash loop going on, the start after its last crash is where it stopped."""
    outcomes = {}
    previous = 0
    for position in _restarts(chunks, indexes):
        before = indexes[position - 1]
        crash = {_worst_template(chunks[i].text) for i in indexes[previous:position]
                 if text_severity(chunks[i].text) >= Severity.WARNING}  # since the start before
        previous = position
        if (text_severity(chunks[indexes[position]].text) >= Severity.WARNING
                or text_severity(chunks[before].text) < Severity.WARNING):
            continue  # not a start after a crash: a reload amid ordinary lines
        after = next((i for i in indexes[position + 1:] if text_severity(chunks[i].text) >= Severity.WARNING), None)
        outcomes[indexes[position]] = after is None or _worst_template(chunks[after].text) not in crash
    return outcomes


def _held_restarts(chunks: Sequence[Chunk], indexes: list[int]) -> set[int]:
    """The starts after a crash that stayed up (``_restarts_after_crashes``)."""
    return {index for index, held in _restarts_after_crashes(chunks, indexes).items() if held}


def _worst_template(text: str) -> str:
    """The template of a log text's first line of its highest severity."""
    lines = text.split("\n")
    worst = max(lines, key=line_severity)
    return line_template(worst)


def _outage(severities: list[int], *more: tuple[int, int]) -> tuple[int, int]:
    """(worst severity, number of incident chunks), of these severities and earlier outages together."""
    return (max([*severities, *(worst for worst, _ in more)], default=0),
            len(severities) + sum(count for _, count in more))


MINOR_COMEBACK = 0.75  # of a comeback's weight, when it follows a lesser outage than the log's worst
EARLIER_COMEBACK = 0.25  # of a comeback's weight, when the question asks about now and another came after it


def _party(question: str, chunks: Sequence[Chunk], indexes: list[int]) -> frozenset[str]:
    """The words of the question, besides its ask for a comeback, that name one party of this log (parties.py:
    the "billing" of 'billing-svc' in a broker's log of many clients) and are in at least one incident chunk and
    one recovery chunk of it; empty when none does."""
    head = VALUE_KINDS["recovery"][0].sub(" ", question[:MAX_QUESTION_CHARS])
    party = set()
    for word in named_parties(head, chunks, indexes):
        having = [i for i in indexes if word in text_words(chunks[i].text)]
        incident = any(text_severity(chunks[i].text) >= Severity.WARNING for i in having)
        if incident and any(states_value("recovery", chunks[i].text) for i in having):
            party.add(word)
    return frozenset(party)


def _amid_start_up(chunks: Sequence[Chunk], since: list[int], index: int) -> bool:
    """The chunk lies within ``READY_BURST_MINUTES`` after the first of the recovery chunks ``since`` that says
    something is ready: in the start-up's burst (``_first_ready``)."""
    ready = next((i for i in since if _READY.search(chunks[i].text)), None)
    if ready is None:
        return False
    spans = chunk_spans([chunks[ready], chunks[index]])
    return 0 in spans and 1 in spans and (spans[1][0] - spans[0][0]) % DAY <= READY_BURST_MINUTES


def _says_ready(chunks: Sequence[Chunk], indexes: list[int]) -> bool:
    return any(_READY.search(chunks[i].text) for i in indexes)


def _settled(chunks: Sequence[Chunk], pending: list[int], since: list[int]) -> list[int]:
    """The comebacks of a stretch of recoveries: the line that says the service is ready, when the last
    part has one (the progress lines before it, cut by a warning such as "found invalid messages", are
    not comebacks); else the first recovery of each part."""
    if _says_ready(chunks, since):
        return _first_ready(chunks, since)
    return [*pending, *_first_ready(chunks, since)]


READY_BURST_MINUTES = 1  # a start-up's lines that say something is ready, the last within this of the first: the
# service is up when its start-up ends (Keycloak's JGroups "server listening on *.57800", then "Keycloak 24.0.3 ...
# started in 19.743s. Listening on: http://0.0.0.0:8080"; PostgreSQL's "listening on", then "ready to accept
# connections")


def _first_ready(chunks: Sequence[Chunk], recoveries: list[int]) -> list[int]:
    """The chunk that says the service is ready (the last of the first burst of them: ``READY_BURST_MINUTES``),
    else the first of these chunks (none: [])."""
    ready = [i for i in recoveries if _READY.search(chunks[i].text)]
    if not ready:
        return recoveries[:1]
    spans = chunk_spans([chunks[i] for i in ready])
    if 0 not in spans:
        return ready[:1]
    last = 0
    while last + 1 in spans and (spans[last + 1][0] - spans[0][0]) % DAY <= READY_BURST_MINUTES:
        last += 1
    return [ready[last]]
