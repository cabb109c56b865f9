"""Lookup questions about a log (worker/engine/lookups.py): the chunks that state the kind of value asked for."""

from __future__ import annotations

import pytest

from worker.documents.document import Chunk, Document
from worker.engine.lookups import (
    COMEBACK_MINUTES,
    EARLIER_COMEBACK,
    MINOR_COMEBACK,
    asked_values,
    asks_for_a_line_not_an_incident,
    lookup_scores,
    names_version_of,
    states_value,
    time_placement,
)


@pytest.mark.parametrize(("question", "kinds"), [
    ("which version of checkout-api was running?", ["version"]),
    ("what release is deployed?", ["version"]),
    ("what port does it listen on?", ["port"]),
    ("which host and port does it connect to?", ["port", "address"]),
    ("where is it listening on now?", ["port"]),
    ("something was poking the kubelet port in the night, who was it?", []),  # a port named, not asked for
    ("where is the data directory?", ["path"]),
    ("when did the database come back up after the crash?", ["recovery"]),
    ("is the api working again?", ["recovery"]),
    ("why did recovery fail?", []),
    ("did anyone change the server config?", ["change"]),
    ("did somebody touch the mailer settings before sending went bad?", ["change"]),
    ("did anyone reload the proxy before checkout started timing out?", ["change"]),
    ("when was the orders db taking connections again after it went down?", ["recovery"]),
    ("which broker are the billing workers connected to?", ["address"]),
    ("what kafka version is broker 2 on?", ["version"]),  # "broker 2" names one, it asks no address
    ("when was the orders index put back?", ["recovery"]),
    ("when did broker 3 get back in sync?", ["recovery"]),
    ("why did checkout fail?", []),
    ("when was os-node-2 back in the cluster after it died?", ["recovery"]),
    ("when did billing manage to connect again?", ["recovery"]),
    ("what time did vault-2 finally unseal after the upgrade?", ["recovery"]),
    ("what time did it finally crash?", []),
    ("when did claim submission go back to normal after the fraud vendor problem?", ["recovery"]),
    ("what time did those early morning 502s on the api stop?", ["recovery"]),
    ("when did the timeouts die down?", ["recovery"]),
    ("why did the errors start?", []),
    ("kubelet died around half five and came back by itself. why did it crash?", []),  # asks what went wrong
    ("api dropped for ~30s and the container came back by itself, what killed it?", []),
    ("clickhouse fell over around 2:20pm and came back up, what crashed it?", []),
    ("mails failed with 451s a bit after 2am and then came back later on, what broke on the relay?", []),
    ("jenkins fell over around half one and came back by itself a minute later, what took it down?", []),
    ("radius fell over twice late morning and came back by itself, why?", []),
    ("front proxy container restarted itself just before noon and nobody touched it. why", []),  # no change
    ("it restarted at 3, we didn't change anything, why?", []),
    ("did someone touch the kubelet this morning?", ["change"]),
    ("who became leader when vault-2 stepped down?", ["leader"]),
    ("which node is primary now?", ["leader"]),
    ("publishers were hanging, anything on the broker?", []),  # names the broker, asks no address
    ("how many mutations did it replay on the way back up?", []),  # a count, not a comeback
    ("when was prometheus answering queries again after that restart?", ["recovery"]),  # doing its work again
    ("why is it failing again?", []),  # not failing, timing out, restarting again
    ("timing out again, why?", []),
    ("same thing again?", []),
    ("what time did it stop crash looping?", ["recovery"]),  # it stopped going wrong
    ("when did the writes stop failing?", ["recovery"]),
    ("when was coredns able to list stuff from the apiserver again?", ["recovery"]),
    ("why did it stop?", []),
    ("invoice-pdf never came back on web-07 after the 2am deploy, why?", []),  # what went wrong
    ("why didn't the api come back up?", []),
    ("zabbix went down around 9:20 and wouldnt start back up, why", []),
    ("did zabbix reconnect to the db on its own after that", ["recovery"]),
    ("when did the replica rejoin?", ["recovery"]),
    ("it keeps reconnecting, why", []),  # trying, not back
    ("when did kea get its lease db back", ["recovery"]),  # got something back
    ("line 4 went dark after the switch reboot. why couldnt the devices get back on?", []),  # no apostrophe
    ("it fell over around 2pm and came back on its own, what happened? pool again?", []),  # the crash is asked
    ("api fell over late afternoon and came back by itself?? what happened", []),
    ("availability was timing out around lunch, is postgres locking up again?", []),  # not doing its work again
    ("is it up again?", ["recovery"]), ("the queue backed up again, why", []),
    ("payment provider flaking again? checkouts were 503ing around 11:20ish", []),
    ("when did the api come back up?", ["recovery"]),
    ("which build is dispatch on now after that mess?", ["version"]),
    ("the 9 o'clock release kept crashing on startup, where's the actual error?", []),  # a release that failed
    ("what time did it stop short-circuiting the carrier calls?", ["recovery"]),
    ("when did it stop throttling us?", ["recovery"]),
    # the event a question places itself against asks for nothing; what it asks, before or after that, does
    ("right after we published the new version every invocation failed, why?", []),
    ("since the version bump the workers keep dying", []),
    ("it broke after we changed the config, why?", []),
    ("what version are we on now after the deploy?", ["version"]),
    ("after the upgrade, which version is it running?", ["version"]),
    ("is dn07 back now?", ["recovery"]), ("what time did it come up?", ["recovery"]),
    ("did any errors come up?", []), ("why is it back to failing?", []),
    ("which host does it connect to?", ["address"]),
    ("apps couldnt connect to ldap-02 for a couple mins, was it down?", []),  # a failure, not an address asked
    # a change named as the suspected cause asks for no change; one asked for outright does
    ("vpn was dead for everyone for a few min around 11:25, did the config reload break it??", []),
    ("could the deploy have caused this?", []), ("was it the upgrade that broke it", []),
    ("did the zookeeper blip actualy recover or is replica n1 still broken", ["recovery"]),  # the breakage is another
    # clause
    ("did anyone change the config?", ["change"]),
    ("since the 5am release the api returns 404 on every route, why didn't it come up?", []),  # what went wrong
    # a change-management paper asks for no change
    ("which billing-api build is live rn? need it for the change ticket", ["version"]),
    ("did the hive problem this morning clear up on its own?", ["recovery"]),  # it went away by itself
    ("people couldnt log into chat just after 1am. did it sort itself out?", []),  # what went wrong
    # who stepped in
    ("erp01 backup was stuck for ages around 2-3am, who unstuck it and what did they do", ["actor"]),
    ("who disabled puppet on app-kr-03 yesterday and why?", ["actor"]),
    ("that ingest stall just before 4, did logstash recover by itself or did somebody bounce it?",
     ["recovery", "actor"]),
    ("who do i call about the backups?", []), ("who owns this service?", []),
    ("who shut the acme bgp session on edge2 and what exactly did they change", ["change", "actor"]),
    ("who brought rs07 back after it died this morning?", ["actor"]),
    # whether a job got to its end
    ("after db2 came back did salesdb crash recovery actually finish ok? any txns lost?", ["completion"]),
    ("did last nights orders etl finish ok, and what time did it wrap up?", ["completion"]),
    ("did the noon nexus db backup go through ok? there's a ton of warnings around then", []),
    ("why didnt the backup finish?", []), ("the backup failed to complete, why?", []),
])
def test_the_kinds_of_value_a_question_asks_for(question: str, kinds: list[str]) -> None:
    assert asked_values(question) == kinds


@pytest.mark.parametrize(("kind", "text"), [
    ("version", "INFO [checkout.boot] starting checkout-api 2.14.1 (git 9f3c2ab)"),
    ("version", 'level=info msg="starting search-indexer" version=v1.19.0'),
    ("version", "Starting LedgerApplication using Java 21.0.2 with PID 1"),
    ("port", "2024-05-14 13:55:00,060 INFO listening on 0.0.0.0:8080"),
    ("port", "Tomcat started on port 8080 (http)"),
    ("address", "connected to redis://cache-1.internal:6379/2"),
    ("address", "peer 10.0.4.17 closed the connection"),
    ("path", "could not open /var/lib/postgresql/16/main/pg_wal"),
    ("recovery", "LOG:  database system is ready to accept connections"),
    ("recovery", "level=info msg=\"connection to broker restored\""),
    ("change", 'LOG:  parameter "work_mem" changed to "64MB"'),
    ("change", "2026/04/21 03:31:05 [notice] 1#1: signal 1 (SIGHUP) received from 4127, reconfiguring"),
    ("recovery", "2026-04-15  3:54:41 0 [Note] mariadbd: ready for connections."),
    ("recovery", '10.20.3.27 - - [21/Apr/2026:02:19:41 +0000] "GET /api/v2/catalog/items?page=1 HTTP/1.1" 200 7412'),
    ("version", "2026/04/21 01:30:00 [notice] 1#1: nginx/1.25.4"),
    ("version", "2024-11-05 18:53:02 exim 4.96 daemon started: pid=2202577, -q30m, listening for SMTP on port 25"),
    ("change", '{"level":"info","changed":{"smtp.maxConnections":{"from":5,"to":25}},"msg":"config reloaded"}'),
    ("change", "INFO Processing override for entityPath: topics/orders.events with config: HashMap(retention.ms -> 1)"),
    ("change", '{"t":{"$date":"2024-06-04T10:58:31.077+00:00"},"s":"I","msg":"CMD: dropIndexes"}'),
    ("recovery", "[2024-06-03 03:53:14,498] INFO [KafkaServer id=2] started (kafka.server.KafkaServer)"),
    ("recovery", '{"level":"info","msg":"peer became active","peer-id":"fd422379fda50e48"}'),
    ("recovery", 'ts=2025-06-19T04:36:41.077Z level=info msg="Server is ready to receive web requests."'),
    ("recovery", '{"level":"info","msg":"alarm disarmed","alarm":"NOSPACE"}'),
    ("recovery", "INFO  [main] 2025-06-18 05:53:12,447 - Starting listening for CQL clients on /10.60.3.13:9042"),
    ("change", 'ts=2025-06-19T00:37:52.118Z level=info msg="Loading configuration file" filename=/etc/p.yaml'),
    ("recovery", "Jun 11 13:25:02 lb-1 haproxy[2211]: Server be_checkout/checkout-1 is UP, reason: Layer7 check"),
    ("recovery", "[2025-03-11T11:15:49,391][INFO ][o.o.n.Node               ] [os-node-2] started"),
    ("recovery", "[2025-03-11T11:15:49,391][INFO ][o.o.n.Node] [os-node-2] started\n[2025-03-11T11:15:50,000] x"),
    ("recovery", "2025-05-20T21:07:12.641Z [INFO]  core: vault is unsealed"),
    ("version", "[2025-03-11T11:15:41,118][INFO ][o.o.n.Node] [os-node-2] version[2.13.0], pid[1]"),
    ("version", "                 Version: Vault v1.16.3, built 2024-05-29T14:28:42Z"),
    ("version", "2025-04-02 05:30:53.402000+00:00 [info] <0.228.0>  Starting RabbitMQ 3.13.1 on Erlang 26.2.4 [jit]"),
    ("version", "I, [2026-03-04T14:02:22.021630 #1]  INFO -- : [Boot] storefront release 2026.03.04-2 (git 4f9c2e1)"),
    ("version", "INFO ClusterEntrypoint [] - Starting StandaloneSessionClusterEntrypoint (Version: 1.18.1, Scala: 2)"),
    ("version", "- root - 364 - WARNING - main - Server /opt/venvs/synapse/app/homeserver.py version 1.123.0"),
    ("version", '{"level":"INFO","time":"2024-05-14T15:41:31Z","message":"Version: RELEASE.2024-05-10T01-41-38Z"}'),
    ("recovery", "2024-05-14 12:53:41,207 INFO  [org.jboss.as] (Controller Boot Thread) WFLYSRV0025: JBoss EAP"
                 " 7.4.14.GA (WildFly Core 15.0.33.Final-redhat-00001) started in 43210ms - Started 1021 of 1254"),
    ("recovery", "INFO 1 --- [main] c.a.ledger.LedgerApplication : Started LedgerApplication in 5.31 seconds"),
    ("change", "[2025-03-11T01:32:07,441][INFO ][o.o.c.s.ClusterSettings] updating [cluster.routing.allocation.disk"
               ".watermark.high] from [90%] to [93%]"),
    ("change", "2025-05-20T00:41:07.219Z [INFO]  core: disabled audit backend: path=syslog/"),
    ("leader", '2025-05-20T13:34:01.412Z [INFO]  storage.raft: entering follower state: follower="vault-2 [Follower]" '
               "leader-address=vault-3.vault-internal:8201 leader-id=vault-3"),
    ("leader", '{"s":"I", "c":"REPL", "msg":"Election succeeded, assuming primary role in term 9"}'),
])
def test_values_are_found(kind: str, text: str) -> None:
    assert states_value(kind, text)


@pytest.mark.parametrize(("text", "completed"), [
    ("MESSAGE : ADM1531E  Crash recovery has completed successfully.", True),
    ('time="2024-03-14T03:06:14Z" level=info msg="Sync operation to 7d2e0b4c succeeded"', True),
    ("  Termination:            Backup OK -- with warnings", True),
    # it got to its end, not well: what "did it finish ok?" asks
    ("2024-03-14 02:00:11 INFO etl orders: run completed with errors (3 tables skipped)", True),
    ("Mar 15 01:33:02 pve03 pvescheduler[2170967]: INFO: Backup job finished with errors", True),
    ("2024-03-14 02:00:11 ERROR etl orders: load failed", False),
])
def test_lines_that_say_a_job_got_to_its_end(text: str, completed: bool) -> None:
    assert states_value("completion", text) == completed


@pytest.mark.parametrize(("text", "acted"), [
    ("13-Mar 03:04 bareos-dir: Console [rkhan] from [10.10.4.37] cmdline prune volume=Full-0101 yes", True),
    ("Information,3/13/2024 4:17:33 AM,IIS-IISReset,3201,None,IIS stop command received from user CORP\\adm-mnowak.",
     True),
    ("2024-03-13 15:07:11 +0000 Puppet (notice): Skipping run of Puppet configuration client; administratively "
     "disabled (Reason: 'tguerin: resolved.conf pointing at 10.0.8.x, fixing by hand - INC-20417')", True),
    ("[2024-03-12T03:49:02,077][WARN ][logstash.runner          ] SIGTERM received. Shutting down.", True),
    ("Mar 21 04:53:41  mx-edge2 mgd[50117]: UI_CFG_AUDIT_OTHER: User 'jsmith' deactivate: [protocols bgp group "
     "CUST-BGP neighbor 203.0.113.42]", True),  # Junos
    ("2024-03-19T06:47:14,159 INFO  [main] util.ServerCommandLine: env:SUDO_USER=lwang", True),  # started with sudo
    ("2024-03-19T06:47:14,159 INFO  [main] util.ServerCommandLine: env:USER=hbase", False),  # the service's account
    # Proxmox VE's task of a user; Nexus's user between the thread and the logger (not its own "*SYSTEM"), and a
    # logback line without a user
    ("Mar 15 02:42:31 pve03 pvedaemon[1795]: <dkowalski@pve> starting task UPID:pve03:00216130:0C2EB5BC:65F3A787:"
     "qmstop:207:dkowalski@pve:", True),
    ("2024-06-04 08:57:14,381+0000 INFO  [qtp1796371666-2211] tgarcia org.sonatype.nexus.internal.httpclient."
     "HttpClientManagerImpl - Saving configuration: HttpClientConfiguration{}", True),
    ("2024-06-04 11:14:20,591+0000 INFO  [quartz-10-thread-19] *SYSTEM org.sonatype.nexus.quartz.internal.task."
     "QuartzTaskInfo - Task 'Purge old maven snapshots' state change WAITING -> RUNNING", False),
    ("2024-06-04 11:14:20,591 INFO  [main] org.apache.kafka.common.Foo - started", False),
    # the system's own account is nobody stepping in
    ("Warning,3/13/2024 3:42:24 AM,DistributedCOM,10016,None,to the user NT AUTHORITY\\SYSTEM SID (S-1-5-18)", False),
    ("12-Mar 21:48 bareos-dir JobId 4518: Fatal error: Unable to connect to Client: web03-fd on 10.20.4.13:9102.",
     False),
])
def test_lines_that_say_someone_acted(text: str, acted: bool) -> None:
    assert states_value("actor", text) == acted


@pytest.mark.parametrize(("text", "recovered"), [
    ("[INF] Polly: Resilience event occurred. EventName: 'OnCircuitClosed', Source: 'carrier-gw'", True),
    ("CircuitBreaker 'backendA' changed state from HALF_OPEN to CLOSED", True),
    ("circuit breaker is closed", True),
    ("[INF] Serilog.AspNetCore.RequestLoggingMiddleware: HTTP POST /v2/shipments responded 201 in 131.2 ms", True),
    ("[WRN] Polly: Resilience event occurred. EventName: 'OnCircuitOpened', Source: 'carrier-gw'", False),
    ("circuit open, connection closed by peer", False),
    ("[ERR] Serilog.AspNetCore.RequestLoggingMiddleware: HTTP POST /v2/shipments responded 503 in 2.5 ms", False),
    # a bad state left
    ("<Information> analytics.events_local (ReplicatedMergeTreeRestartingThread): Table is not readonly anymore", True),
    ("INFO org.apache.hadoop.hdfs.StateChange: STATE* Leaving safe mode after 36 secs", True),
    ("<Error> TCPHandler: Code: 242. DB::Exception: Table is in readonly mode (replica path: /clickhouse)", False),
    ("WARN writes are throttled, not paused until the queue drains", False),
    # a state entered: Ceph's "state: booting -> active"
    ("2024-03-02T10:21:09.231+0000 7f8c1e3c8200  1 osd.3 815 state: booting -> active", True),
    ("node state: active -> draining", False),
    ("2024/05/14 14:33:12 kid1| Detected REVIVED Parent: dlp-gw.corp.example", True),  # Squid
    ("INFO NodeStatusUpdaterImpl: Registered with ResourceManager as dn07.example:45454", True),  # YARN
    ("[1] 2024/08/20 08:19:44.109512 [INF] 10.40.2.13:6222 - rid:105 - Route connection created", True),  # NATS
    ("INFO NodeManager: registered UNIX signal handlers for [TERM, HUP, INT]", False),
    ("[2024-05-21 08:43:07 +0200] information/ApiListener: Finished reconnecting to endpoint 'sat-ams-01'", True),
    ("[2024-05-21 08:41:16 +0200] information/ApiListener: Reconnecting to endpoint 'sat-ams-01'", False),
    # FortiGate logs leaving its memory conserve mode as critical; Trino's metastore reached again
    ('<186>date=2024-09-17 time=03:46:25 level="critical" logdesc="Kernel leaves memory conserve mode"', True),
    ('<186>date=2024-09-17 time=03:32:20 level="critical" logdesc="Kernel enters memory conserve mode"', False),
    ("2024-05-21T08:48:27.161Z INFO hive-metastore-3 StaticMetastoreLocator Connected to Hive metastore thrift://hms-2",
     True),
    ("WARN client not connected to the metastore", False),
])
def test_a_closed_circuit_and_a_request_served_again_are_recoveries(text: str, recovered: bool) -> None:
    assert states_value("recovery", text) == recovered


@pytest.mark.parametrize(("kind", "text"), [
    ("version", "2024-05-14 13:55:00,060 INFO peer 10.0.4.17 answered in 4.871 s"),
    ("version", "timeout 30.00 after 3 attempts"),
    ("port", "2024-05-14 13:55:00,060 INFO request took 12:30 minutes"),
    ("address", "2024-05-14 13:55:00,060 INFO ok"),
    ("recovery", "LOG:  database system was not properly shut down; automatic recovery in progress"),
    ("recovery", "Warning  NodeNotReady  node is not ready"),
    ("change", '{"level":"info","msg":"config loaded","smtp":{"maxConnections":5}}'),
    ("version", '10.20.5.102 - - [21/Apr/2026:02:25:50 +0000] "GET /main.css HTTP/1.1" 200 3816 "-" "okhttp/4.12.0"'),
    # an Erlang pid, a date written with dots, a counter called version, a library's version in a stack frame
    ("version", "2025-04-02 09:46:58.743043+00:00 [info] <0.312.0> Autoheal decision"),
    ("version", "[2025-03-11T23:30:00,412][INFO ] [s3-nightly:nightly-2025.03.11-mq4xkz0] snapshot started"),
    ("version", "cluster-manager node changed {version=20418, sourceNode={os-node-1}}"),
    ("version", "\tat org.opensearch.search.SearchService.run(SearchService.java:689) ~[opensearch-2.13.0.jar:2.13.0]"),
    # a library's version in a file name, an address after a word, a user agent in an access line that writes its
    # status before the request (Synapse)
    ("version", "INFO ClusterEntrypoint [] - Classpath: /opt/flink/lib/flink-cep-1.18.1.jar:/opt/flink/lib/x-2.0.1.jar"
                " (2 jars)"),
    ("version", "INFO StandaloneResourceManager [] - Registering TaskManager with ResourceID 10.42.1.17:6122-3c9e5b"),
    ("version", "INFO StandaloneResourceManager [] - Registering TaskManager with ResourceID 10.42.1.17 at rm"),
    ("version", '- 192.0.2.201 - 8008 - {@fatima:example.org} Processed request: 0.018sec/0.002sec 953B 200 "POST '
                '/_matrix/client/v3/keys/query HTTP/1.1" "Element/1.11.85 (Linux)" [0 dbevts]'),
    ("recovery", "[2025-03-11T23:30:00,412][INFO ][o.o.s.SnapshotShardsService] [[products-v8][1]] snapshot started"),
    # a client's version in a structured line's user agent (MinIO's audit entries)
    ("version", '{"time":"2024-05-14T17:39:31Z","api":{"name":"HeadObject"},"userAgent":"MinIO (linux; amd64) '
                'minio-go/v7.0.70 mc/RELEASE.2024-04-29T09-56-05Z"}'),
    # the same user agent where a long line's piece begins inside it, and a browser's
    ("version", 'MinIO (linux; amd64) minio-go/v7.0.70 mc/RELEASE.2024-04-29T09-56-05Z","requestHost":"s3:9000"}'),
    ("version", "GET /healthz 200 ua=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.6099.109"),
    ("leader", '2025-05-20T13:31:44.905Z [INFO]  storage.raft: entering follower state: follower="vault-2" '
               "leader-address= leader-id="),  # nobody leads yet
    # states the system moved through by itself, not changes someone made
    ("change", "[INFO ][o.o.c.r.a.AllocationService] Cluster health status changed from [YELLOW] to [GREEN]"),
    ("change", "raft: state changed to FOLLOWER"),
    ("recovery", "INFO  [PerDiskMemtableFlushWriter_0:58] 2025-06-18 05:33:05,152 - Stop listening for CQL clients"),
])
def test_lookalikes_of_values_are_not(kind: str, text: str) -> None:
    assert not states_value(kind, text)


def test_only_log_chunks_that_state_the_value_score() -> None:
    log = Document("file:app.log", "app.log", "", kind="log")
    runbook = Document("runbook:app.md", "App", "", kind="runbook")
    chunks = [Chunk(log, "10:00:00 INFO starting app 2.14.1", 1, 1), Chunk(log, "10:00:05 INFO GET / 200", 2, 2),
              Chunk(runbook, "Upgrade to 2.15.0 first.", 1, 1)]
    assert lookup_scores("which version was running?", chunks).tolist() == [1.0, 0.0, 0.0]
    assert lookup_scores("why did it fail?", chunks).tolist() == [0.0, 0.0, 0.0]


def test_a_comeback_after_the_crash_outranks_the_first_start_up() -> None:
    log = Document("file:pg.log", "pg.log", "", kind="log")
    chunks = [Chunk(log, "14:00:00 LOG:  database system is ready to accept connections", 4, 4),
              Chunk(log, "14:40:28 PANIC:  could not write to file: No space left on device", 170, 170),
              Chunk(log, "14:40:40 LOG:  database system is ready to accept connections", 186, 186),
              Chunk(log, "14:41:00 LOG:  connection authorized: user=shop", 187, 187)]
    assert lookup_scores("when did the database come back up after the crash?", chunks).tolist() == [
        0.5, 0.0, 1.0, 0.0]


def test_the_comeback_is_the_line_that_says_the_service_is_ready_not_its_crash_recovery() -> None:
    log = Document("file:db.log", "db.log", "", kind="log")
    chunks = [Chunk(log, "2026-04-15  3:51:37 4187 [ERROR] mysqld got signal 6 ;", 90, 90),
              Chunk(log, "2026-04-15  3:54:17 0 [Note] InnoDB: rollback of recovered transactions", 190, 190),
              Chunk(log, "2026-04-15  3:54:41 0 [Note] mariadbd: ready for connections.", 206, 206),
              Chunk(log, "2026-04-15  4:10:00 0 [Note] InnoDB: Buffer pool(s) load completed successfully", 230, 230)]
    assert lookup_scores("when was the db taking connections again?", chunks).tolist() == [0.0, 0.25, 1.0, 0.5]



def test_a_warning_amid_a_crash_recovery_does_not_make_its_progress_the_comeback() -> None:
    """Kafka loads its logs after a crash ("recovered for orders.events-7"), warns about a corrupt
    segment on the way, then says it started: that line is the comeback, and the lines before it are its
    progress. When no line says so, each stretch of recoveries still has its first (a save that worked,
    between failed saves)."""
    log = Document("file:kafka.log", "kafka.log", "", kind="log")
    chunks = [Chunk(log, "[03:31:08,483] ERROR Shutdown broker because all log dirs have failed", 1, 1),
              Chunk(log, "[03:52:31,875] INFO Recovering unflushed segment 18470312. 0/1 recovered for x-7", 2, 2),
              Chunk(log, "[03:52:33,285] WARN Found invalid messages in log segment 18470312", 3, 3),
              Chunk(log, "[03:53:14,316] INFO [GroupCoordinator 2]: Startup complete.", 4, 4)]
    assert lookup_scores("when was it serving again?", chunks).tolist() == [0.0, 0.25, 0.0, 1.0]
    saves = [Chunk(log, "1:M 02 Apr 2026 03:10:00.000 # Background saving error", 1, 1),
             Chunk(log, "1:M 02 Apr 2026 03:15:00.000 * Background saving terminated with success", 2, 2),
             Chunk(log, "1:M 02 Apr 2026 03:20:00.000 # Background saving error", 3, 3),
             Chunk(log, "1:M 02 Apr 2026 03:25:00.000 * Background saving terminated with success", 4, 4)]
    assert lookup_scores("when were the snapshots working again?", saves).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_the_comeback_is_where_the_start_up_ends_not_its_first_listening_component() -> None:
    """Keycloak's JGroups says "server listening" seconds before Keycloak says it started: the start-up's
    last ready line within a minute is the comeback; a ready line an hour later is another."""
    log = Document("file:kc.log", "kc.log", "", kind="log")
    chunks = [Chunk(log, "2026-03-18 08:08:45,013 ERROR [o.k.s.e.KeycloakErrorHandler] Uncaught server error: "
                         "java.lang.OutOfMemoryError: Java heap space", 1, 1),
              Chunk(log, "2026-03-18 08:11:10,679 INFO  [org.jgroups.protocols.FD_SOCK2] (main) server listening on "
                         "*.57800", 2, 2),
              Chunk(log, "2026-03-18 08:11:14,224 INFO  [o.k.c.i.DefaultInfinispanConnectionProviderFactory] Node name",
                    3, 3),
              Chunk(log, "2026-03-18 08:11:16,179 INFO  [io.quarkus] (main) Keycloak 24.0.3 on JVM started in 19.7s. "
                         "Listening on: http://0.0.0.0:8080", 4, 4),
              Chunk(log, "2026-03-18 09:30:00,000 INFO  [org.jgroups.protocols.FD_SOCK2] (main) server listening on "
                         "*.57801", 5, 5)]
    assert lookup_scores("what time was it serving again?", chunks).tolist() == [0.0, 0.25, 0.0, 1.0, 0.5]


def test_a_start_up_s_own_warning_does_not_cut_it_short() -> None:
    """WildFly warns of a deprecated API twenty seconds into its start-up, after its first listener and before it
    says it started: the comeback is the "started in" line, not the listener."""
    log = Document("file:server.log", "server.log", "", kind="log")
    lines = ["2024-05-14 12:38:52,101 ERROR [org.jboss.as] java.lang.OutOfMemoryError: Metaspace",
             "2024-05-14 12:53:04,385 INFO  [org.wildfly.extension.undertow] WFLYUT0006: Undertow HTTPS listener https "
             "listening on 10.30.12.21:8443",
             "2024-05-14 12:53:24,015 WARN  [org.hibernate.orm.deprecation] HHH90000022: Hibernate's legacy "
             "org.hibernate.Criteria API is deprecated",
             "2024-05-14 12:53:41,207 INFO  [org.jboss.as] WFLYSRV0025: JBoss EAP 7.4.14.GA started in 43210ms"]
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(lines, 1)]
    scores = lookup_scores("billing was dead, when exactly was it back up?", chunks).tolist()
    assert scores[3] == 1.0 and scores[1] < 1.0


def test_a_comeback_asked_after_a_crash_is_the_one_after_the_worst_outage() -> None:
    """A log with a crash (a stack trace) and, later, a warning and a reconnect: "after that crash" is the
    comeback after the trace; "after that restart" names no crash, and both comebacks count."""
    log = Document("file:svc.log", "svc.log", "", kind="log")
    chunks = [Chunk(log, "2026-03-18 08:08:45 ERROR boom\njava.lang.OutOfMemoryError: Java heap space\n"
                         "\tat com.example.Export.run(Export.java:42)", 1, 3),
              Chunk(log, "2026-03-18 08:11:16 INFO server is ready", 4, 4),
              Chunk(log, "2026-03-18 10:00:00 WARN smtp relay slow", 5, 5),
              Chunk(log, "2026-03-18 10:05:00 INFO smtp connection established", 6, 6)]
    assert lookup_scores("when was it serving again after that crash?", chunks).tolist() == [0.0, 1.0, 0.0, 0.75]
    assert lookup_scores("when was it serving again after that restart?", chunks).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_a_comeback_asked_for_by_what_failed_is_the_one_after_that_outage() -> None:
    """Two outages, each with its comeback: "stop short-circuiting the carrier calls" names the second's
    words (the open circuit, the carrier gateway), so its comeback weighs 1 and the other less; a question
    that names neither leaves both at 1."""
    log = Document("file:dispatch.log", "dispatch.log", "", kind="log")
    lines = ["02:11:08 [ERR] Microsoft.EntityFrameworkCore.Query: SqlException: Execution Timeout Expired.",
             "02:19:57 [INF] RequestLoggingMiddleware: HTTP GET /v2/shipments/8525176 responded 200 in 16 ms",
             "04:41:54 [WRN] Polly: EventName: 'OnCircuitOpened', Source: 'Standard-CircuitBreaker'",
             "04:43:57 [ERR] ShipmentService: Creating shipment failed, carrier gateway unavailable\n"
             "Polly.CircuitBreaker.BrokenCircuitException: The circuit is now open and is not allowing calls.",
             "04:58:12 [INF] Polly: EventName: 'OnCircuitClosed', Source: 'Standard-CircuitBreaker'",
             *(f"05:{m:02}:00 [INF] ManifestSweepService: Manifest sweep finished" for m in range(10, 60, 10))]
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(lines, start=1)]
    scores = lookup_scores("what time did it stop short-circuiting the carrier calls?", chunks).tolist()
    assert scores[:5] == [0.0, MINOR_COMEBACK, 0.0, 0.0, 1.0]
    assert lookup_scores("when did it come back?", chunks).tolist()[:5] == [0.0, 1.0, 0.0, 0.0, 1.0]


def test_a_line_that_does_again_what_the_outage_failed_to_do_is_its_comeback() -> None:
    """gitlab-runner says "Checking for jobs... failed" through GitLab's 502s, then "Checking for jobs...
    received": no word of recovery, but the same operation without the failure; a "Job failed" names too
    little of what failed for "Job succeeded" to be its comeback that way."""
    log = Document("file:journal.log", "journal.log", "", kind="log")
    prefix = "2026-04-07T05:{m:02}:00+00:00 ci-runner-04 gitlab-runner[1187]: "
    lines = [prefix.format(m=m) + "WARNING: Checking for jobs... failed  runner=xZ3 status=502 Bad Gateway"
             for m in range(40, 58)]
    lines.append(prefix.format(m=58) + "Checking for jobs... received  job=4488639 runner=xZ3")
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(lines, start=1)]
    assert lookup_scores("when did it start taking jobs again?", chunks).tolist()[-1] == 1.0
    jobs = [Chunk(log, prefix.format(m=1) + "ERROR: Job failed (system failure)  job=1", 1, 1),
            Chunk(log, prefix.format(m=2) + "Job started  job=2", 2, 2)]
    assert lookup_scores("when did it start taking jobs again?", jobs).tolist() == [0.0, 0.0]
    # one more word in the operation: FreeRADIUS opens an "additional" connection once MySQL is back
    radius = Document("file:radius.log", "radius.log", "", kind="log")
    lines = ["Thu Mar 21 08:45:11 2024 : Error: rlm_sql (sql): Opening connection failed (21)",
             "Thu Mar 21 08:46:07 2024 : Auth: (48818) Login OK: [u1] (from client sw-acc-2f port 50135)",
             "Thu Mar 21 08:47:12 2024 : Info: rlm_sql (sql): Opening additional connection (22), 1 of 32 pending",
             "Thu Mar 21 08:48:12 2024 : Info: rlm_sql (sql): Opening two more connections (23)"]
    chunks = [Chunk(radius, line, n, n) for n, line in enumerate(lines, start=1)]
    assert lookup_scores("when did radius reconnect to the db?", chunks).tolist() == [0.0, 0.0, 1.0, 0.0]
    # a line that says it tries again did not do it
    chunks[2] = Chunk(radius, "Thu Mar 21 08:47:12 2024 : Info: rlm_sql (sql): Opening again connection (22)", 3, 3)
    assert lookup_scores("when did radius reconnect to the db?", chunks).tolist()[2] == 0.0


def test_a_change_asked_for_before_the_trouble_is_the_last_one_before_it() -> None:
    """"Before the disk trouble started": the watermark raised at 01:32, not the breaker limit changed
    hours after the flood-stage warnings; nor the health status the cluster moved through."""
    log = Document("file:os.log", "os.log", "", kind="log")
    chunks = [Chunk(log, "[01:20:00][INFO ] updating [indices.recovery.max_bytes] from [40mb] to [80mb]", 10, 10),
              Chunk(log, "[01:32:07][INFO ] updating [cluster.routing.allocation.disk.watermark.high] "
                         "from [90%] to [93%]", 23, 23),
              Chunk(log, "[01:40:56][INFO ] Cluster health status changed from [YELLOW] to [GREEN]", 26, 26),
              Chunk(log, "[03:17:11][WARN ] flood stage disk watermark [95%] exceeded on [os-node-3]", 45, 45),
              Chunk(log, "[10:48:19][INFO ] updating [indices.breaker.fielddata.limit] from [40%] to [45%]", 173, 173)]
    question = "did anybody touch the cluster settings before the disk trouble started?"
    assert lookup_scores(question, chunks).tolist() == [0.5, 1.0, 0.0, 0.0, 0.25]
    # without an event, every change counts the same
    assert lookup_scores("did anybody touch the cluster settings?", chunks).tolist() == [1.0, 1.0, 0.0, 0.0, 1.0]


def test_a_change_before_a_time_is_placed_by_that_time() -> None:
    log = Document("file:vault.log", "vault.log", "", kind="log")
    chunks = [Chunk(log, "2025-05-20T00:41:07.219Z [INFO]  core: disabled audit backend: path=syslog/", 9, 9),
              Chunk(log, "2025-05-20T04:12:08.340Z [ERROR] audit: backend failed to log response", 66, 66),
              Chunk(log, "2025-05-20T04:33:52.615Z [INFO]  core: reloading plugin backends: path=file/", 103, 103)]
    question = "was anything changed on vault before the 4am outage?"
    assert time_placement(question) == (True, 0) and time_placement("what changed?") == (False, 0)
    assert lookup_scores(question, chunks).tolist() == [1.0, 0.0, 0.25]


def test_the_leader_asked_for_after_an_event_is_the_first_named_after_it() -> None:
    log = Document("file:vault.log", "vault.log", "", kind="log")
    chunks = [Chunk(log, '09:00:00 [INFO]  storage.raft: entering follower state: leader-id=vault-1', 1, 1),
              Chunk(log, "13:31:44 [WARN]  storage.raft: failed to contact quorum of nodes, stepping down", 236, 236),
              Chunk(log, '13:34:01 [INFO]  storage.raft: entering follower state: leader-id=vault-3', 248, 248),
              Chunk(log, '21:07:13 [INFO]  storage.raft: entering follower state: leader-id=vault-3', 368, 368)]
    assert lookup_scores("who became leader when vault-2 stepped down?", chunks).tolist() == [0.25, 0.0, 1.0, 0.5]


def test_a_party_named_in_the_question_has_its_own_comeback() -> None:
    """"When did billing connect again?" in a broker's log of many clients: billing's comeback after its
    refused logins, not another client's reconnect nor billing's after a single dropped connection."""
    log = Document("file:mq.log", "mq.log", "", kind="log")
    lines = ["09:40:06 [warning] closing AMQP connection (vhost: 'billing', user: 'billing-svc')",
             "09:41:38 [info] user 'billing-svc' authenticated and granted access to vhost 'billing'",
             "12:02:52 [info] user 'fulfillment-worker' authenticated and granted access to vhost 'orders'",
             "14:53:40 [error] PLAIN login refused: user 'billing-svc' - invalid credentials",
             "14:58:44 [error] PLAIN login refused: user 'billing-svc' - invalid credentials",
             "15:01:00 [error] queue.declare caused a channel exception not_found: no queue 'shipping.rates'",
             "15:02:00 [info] user 'shipping-svc' authenticated and granted access to vhost 'orders'",
             "15:30:47 [info] user 'billing-svc' authenticated and granted access to vhost 'billing'",
             *(f"16:{m:02}:00 [info] user 'orders-svc' authenticated and granted access to vhost 'orders'"
               for m in range(10, 60, 5))]  # billing is one client of many
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(lines, start=1)]
    scores = lookup_scores("when did billing manage to connect again?", chunks).tolist()
    assert scores.index(max(scores)) == 7
    assert scores[1] == 0.75  # billing's comeback after one dropped connection
    assert scores[6] == 0.5  # another client's line after another client's error
    # no party named: every comeback counts the same
    assert lookup_scores("when did they connect again?", chunks).tolist()[6] == 1.0


def test_a_comeback_asked_after_a_time_is_the_first_after_it() -> None:
    """"etcd-3 dropped off around 5:20, when did it come back?": 05:41, not the comeback after the night's
    full disk; and the time is where the answer starts, not where it lies."""
    log = Document("file:etcd.log", "etcd.log", "", kind="log")
    lines = ['{"level":"warn","ts":"2025-06-17T03:15:38.402Z","msg":"alarm raised","alarm":"NOSPACE"}',
             '{"level":"info","ts":"2025-06-17T03:52:17.604Z","msg":"alarm disarmed","alarm":"NOSPACE"}',
             '{"level":"error","ts":"2025-06-17T05:20:33.742Z","msg":"lost TCP streaming connection","peer-id":"fd42"}',
             '{"level":"info","ts":"2025-06-17T05:41:09.318Z","msg":"peer became active","peer-id":"fd42"}']
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(lines, start=1)]
    question = "etcd-3 dropped off the cluster around 5:20, when did it come back?"
    assert lookup_scores(question, chunks).tolist() == [0.0, 0.75, 0.0, 1.0]
    assert time_placement(question) == (False, COMEBACK_MINUTES)  # the comeback follows the time
    assert time_placement("what failed around 5:20?") == (False, 0)
    assert lookup_scores("when did it come back?", chunks).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_a_comeback_asked_about_now_is_the_last_one() -> None:
    """"is dn07 back and registered with the RM now?": the registration after its last outage, not the one after
    an earlier outage whose lines read closer to the question; without "now" both weigh the same."""
    log = Document("file:nm.log", "nm.log", "", kind="log")
    lines = ["2024-05-14 08:14:01,640 ERROR NodeStatusUpdaterImpl: Caught exception in status-updater",
             "2024-05-14 08:15:15,872 INFO  NodeStatusUpdaterImpl: Registered with ResourceManager as dn07:45454",
             "2024-05-14 11:02:19,974 ERROR NodeManager: Error starting NodeManager",
             "2024-05-14 11:09:43,967 INFO  NodeStatusUpdaterImpl: Registered with ResourceManager as dn07:45454"]
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(lines, start=1)]
    assert asked_values("is dn07 back and registered with the RM now? what time did it come up") == ["recovery"]
    assert lookup_scores("is dn07 back now?", chunks).tolist() == [0.0, EARLIER_COMEBACK, 0.0, 1.0]
    assert lookup_scores("is dn07 back?", chunks).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_a_comeback_asked_for_good_is_the_last_one_even_in_the_span_named() -> None:
    """"the nas kept dropping out overnight, when did it come back for good?": its last comeback; the first after
    the time named is for a plain "when did it come back?"."""
    log = Document("file:pve.log", "pve.log", "", kind="log")
    lines = ["Mar 15 00:21:40 pve03 kernel: nfs: server 10.20.0.15 not responding, still trying",
             "Mar 15 00:38:02 pve03 kernel: nfs: server 10.20.0.15 OK",
             "Mar 15 00:52:11 pve03 kernel: nfs: server 10.20.0.15 not responding, still trying",
             "Mar 15 01:21:02 pve03 kernel: nfs: server 10.20.0.15 OK"]
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(lines, start=1)]
    for_good = lookup_scores("the nas kept dropping out after midnight, when did it come back for good?", chunks)
    assert for_good.tolist() == [0.0, EARLIER_COMEBACK, 0.0, 1.0]
    assert lookup_scores("the nas dropped out after midnight, when did it come back?", chunks).tolist() == [
        0.0, 1.0, 0.0, MINOR_COMEBACK]


def test_a_version_of_four_numbers_is_one_unless_it_could_be_an_address() -> None:
    sql = "2024-05-14 07:31:19.94 Server      Microsoft SQL Server 2022 (RTM-CU12) (KB5033663) - 16.0.4115.5 (X64)"
    assert states_value("version", sql) and names_version_of("which build is the erp sql server on?", sql)
    ubuntu = "\tStandard Edition (64-bit) on Linux (Ubuntu 22.04.4 LTS) <X64>"
    assert states_value("version", ubuntu) and not names_version_of("which build is the erp sql server on?", ubuntu)
    assert not states_value("version", "connected to 10.20.4.31 from 192.168.255.254")


def test_a_restart_banner_that_says_other_settings_than_the_last_is_a_change() -> None:
    """No line says "changed": the worker came back with release v4.13.0 and concurrency 10 where the
    start before said v4.12.3 and 5. A line of measurements that moves every time is no setting."""
    log = Document("file:worker.log", "worker.log", "", kind="log")
    banner = "2025-10-07T{t}Z pid={pid} tid=h4w2 INFO: shipping-worker release={release} concurrency={n} queues=a,b"
    stats = '{{"level":"info","time":"2025-10-07T{t}Z","waiting":{w},"failed":{f},"msg":"queue stats"}}'
    chunks = [Chunk(log, banner.format(t="09:00:01", pid=4821, release="v4.12.3", n=5), 7, 7),
              Chunk(log, stats.format(t="10:00:00", w=3, f=59), 20, 20),
              Chunk(log, stats.format(t="11:00:00", w=6, f=54), 35, 35),
              Chunk(log, stats.format(t="12:00:00", w=14, f=57), 50, 50),
              Chunk(log, banner.format(t="13:18:09", pid=5187, release="v4.13.0", n=10), 270, 270),
              Chunk(log, '2025-10-07T13:19:21.565Z pid=5187 tid=rkh9 WARN: {"context":"Job raised exception",'
                         '"job":{"queue":"labels","class":"LabelPrintJob"}}\n2025-10-07T13:19:21.565Z pid=5187 '
                         "tid=rkh9 WARN: NoMethodError: undefined method `tracking_number' for nil:NilClass", 274, 275),
              Chunk(log, banner.format(t="14:11:48", pid=5224, release="v4.12.3", n=5), 358, 358)]
    scores = lookup_scores("what changed on the worker right before the label failures?", chunks)
    assert scores.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.25]
    # the same banner at every start is no change
    same = [Chunk(log, banner.format(t=f"{h:02d}:00:01", pid=h, release="v4.12.3", n=5), h, h) for h in (9, 13)]
    assert lookup_scores("what changed on the worker?", same).tolist() == [0.0, 0.0]


def _coredns_start(t: str) -> list[str]:
    return [f"2025-11-03T{t}Z .:53", f"2025-11-03T{t}Z [INFO] plugin/reload: Running configuration SHA512 = 4376ab",
            f"2025-11-03T{t}Z CoreDNS-1.11.1"]


def test_the_start_after_the_last_crash_of_a_loop_is_where_it_stopped_crash_looping() -> None:
    """CoreDNS dies at start-up on the same fatal error five times, then starts and stays up. No line says
    it recovered: the start-up banner that no crash follows does. A client's reconnect between is a
    comeback of another kind, and a reload amid ordinary lines is no restart."""
    log = Document("file:coredns.log", "coredns.log", "", kind="log")
    fatal = '2025-11-03T{t}Z [FATAL] plugin/loop: Loop (127.0.0.1:{p} -> :53) detected for zone "."'
    query = '2025-11-03T01:{m:02d}:00Z [INFO] 10.244.2.41:33772 - 36347 "A IN hooks.slack.com." NXDOMAIN'
    chunks = [Chunk(log, "\n".join(_coredns_start("00:00:07")), 1, 3),
              *(Chunk(log, query.format(m=m), 3, 3) for m in range(60)),  # (file order is list order here)
              Chunk(log, '2025-11-03T02:40:11Z [ERROR] plugin/kubernetes: Failed to watch: connection refused', 4, 4),
              Chunk(log, '2025-11-03T02:47:31Z Trace[1]: ---"Objects listed" error:<nil> 10014ms', 5, 5),
              Chunk(log, "2025-11-03T04:05:12Z [INFO] Reloading\n" + _coredns_start("04:05:17")[1], 6, 7)]
    line = 8
    for n, t in enumerate(("05:31:08", "05:31:21", "05:31:42", "05:46:12")):
        chunks.append(Chunk(log, "\n".join(_coredns_start(t)), line, line + 2))
        if n < 3:
            chunks.append(Chunk(log, fatal.format(t=t, p=35916 + n), line + 3, line + 3))
        line += 4
    scores = lookup_scores("what time did it stop crash looping?", chunks)
    assert scores.argmax() == len(chunks) - 1 and scores[-1] == 1.0
    assert scores[62] == 0.0  # the reconnect: "Objects listed" with no error
    assert lookup_scores("when was coredns able to list stuff from the apiserver again?", chunks)[62] == 1.0


def test_a_start_that_the_same_crash_ends_again_is_no_comeback() -> None:
    """gunicorn after a bad deploy: each start's worker dies on the same exception, logged across a few
    chunks (the exception, then "exited with code 3" and "Reason: Worker failed to boot"), until the fixed
    start stays up. "When was it serving again?" is that start, not the one the crash loop ended again."""
    log = Document("file:gunicorn.log", "gunicorn.log", "", kind="log")

    def start(t: str) -> str:
        return (f"[2026-01-20 {t} +0000] [1] [INFO] Starting gunicorn 22.0.0\n"
                f"[2026-01-20 {t} +0000] [1] [INFO] Listening at: http://0.0.0.0:8000 (1)")

    def crash(t: str) -> list[str]:
        return [f"[2026-01-20 {t} +0000] [7] [ERROR] Exception in worker process\nKeyError: 'BUCKET'",
                f"[2026-01-20 {t} +0000] [1] [ERROR] Worker (pid:7) exited with code 3\n"
                f"[2026-01-20 {t} +0000] [1] [ERROR] Reason: Worker failed to boot."]

    request = '192.0.2.88 - - [20/Jan/2026:14:{m:02d}:00 +0000] "GET /dashboard/ HTTP/1.1" 200 18149'
    texts = [start("06:00:02"), *(request.format(m=m) for m in range(50)), *crash("15:02:59"), start("15:03:22"),
             *crash("15:03:23"), start("15:14:06"), request.format(m=59)]
    chunks = [Chunk(log, text, n, n) for n, text in enumerate(texts, 1)]
    scores = lookup_scores("what time was the portal serving again after that deploy mess?", chunks)
    assert scores[texts.index(start("15:14:06"))] == 1.0
    assert scores[texts.index(start("15:03:22"))] < 1.0, "the crash loop ended it at once"


def test_the_last_thing_logged_before_a_silent_death_is_before_the_next_start() -> None:
    """The worker was killed without a line; only its next start-up banner shows it died. The line before
    that banner, in the banner's chunk or the one before, is what it logged last."""
    log = Document("file:sidekiq.log", "sidekiq.log", "", kind="log")
    banner = "2025-10-07T{t}Z pid={pid} tid=230v INFO: Booted Rails 7.1.3 application in production environment"
    job = "2025-10-07T{t}Z pid=52240 tid=xggq class=ManifestExportJob jid=dc38 INFO: {what}"
    chunks = [Chunk(log, banner.format(t="09:00:01", pid=48213), 1, 1),
              Chunk(log, job.format(t="15:37:12", what="start"), 2, 2),
              Chunk(log, job.format(t="15:38:22", what="rendering manifest pdf pages=1934 rss_mb=3790") + "\n"
                    + banner.format(t="15:38:41", pid=53391), 3, 4),
              Chunk(log, job.format(t="15:40:51", what="start"), 5, 5)]
    question = "what was the last thing the worker logged before it died?"
    assert lookup_scores(question, chunks).tolist() == [0.0, 0.0, 1.0, 0.0]
    chunks[2:3] = [Chunk(log, job.format(t="15:38:22", what="rendering manifest pdf"), 3, 3),
                   Chunk(log, banner.format(t="15:38:41", pid=53391), 4, 4)]
    assert lookup_scores(question, chunks).tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert lookup_scores("what did the worker log before the export?", chunks).tolist() == [0.0] * 5
    # with another kind asked, each counts half: the last words and the banner's version
    both = lookup_scores("which version, and what was the last thing it logged before it died?", chunks)
    assert both.tolist() == [0.5, 0.0, 0.5, 0.5, 0.0]


def test_when_it_was_last_restarted_is_its_last_start_up() -> None:
    """"When did the worker last get restarted?": the start-up banners again, the last in full; it asks for that
    line, not for an incident. "Why did it restart?" and "errors since the last restart" ask for none."""
    log = Document("file:sidekiq.log", "sidekiq.log", "", kind="log")
    banner = "2025-10-07T{t}Z pid={pid} tid=230v INFO: Booted Rails 7.1.3 application in production environment"
    job = "2025-10-07T{t}Z pid=52240 tid=xggq class=ManifestExportJob jid=dc38 INFO: {what}"
    chunks = [Chunk(log, banner.format(t="09:00:01", pid=48213), 1, 1),
              Chunk(log, job.format(t="11:37:12", what="start"), 2, 2),
              Chunk(log, banner.format(t="11:38:41", pid=51391), 3, 3),
              Chunk(log, job.format(t="15:37:12", what="start"), 4, 4),
              Chunk(log, banner.format(t="15:38:41", pid=53391), 5, 5),
              Chunk(log, job.format(t="15:40:51", what="start"), 6, 6)]
    for question in ("when did the worker last get restarted?", "when was the last restart of sidekiq?"):
        assert lookup_scores(question, chunks).tolist() == [0.0, 0.0, 0.5, 0.0, 1.0, 0.0], question
        assert asks_for_a_line_not_an_incident(question)
    for question in ("why did the worker restart?", "tons of errors since the last restart, why?",
                     "when did it restart and what killed it?"):
        assert lookup_scores(question, chunks).tolist() == [0.0] * 6, question
        assert not asks_for_a_line_not_an_incident(question)


def test_a_log_that_does_not_open_with_its_start_up_has_no_restarts() -> None:
    """A log cut from the middle of the day opens with requests: the same request lines later are no start
    (a start-up's lines are as rare as starts are)."""
    log = Document("file:app.log", "app.log", "", kind="log")
    request = "2025-10-07T10:{m:02d}:00Z INFO GET /health 200"
    chunks = [Chunk(log, request.format(m=m), m + 1, m + 1) for m in range(40)]
    chunks[20] = Chunk(log, "2025-10-07T10:20:00Z ERROR upstream timed out", 21, 21)
    assert lookup_scores("what was the last thing it logged before it died?", chunks).tolist() == [0.0] * 40


def test_a_question_for_the_version_since_a_restart_asks_for_no_incident() -> None:
    """"What version is it on since the afternoon restart?": the restart places the answer; the version line
    is what it asks for, not the restart's errors."""
    assert asks_for_a_line_not_an_incident("what nomad version is web-07 on since the afternoon restart?")
    assert not asks_for_a_line_not_an_incident("why did web-07 restart this afternoon?")


def test_a_version_asked_for_as_it_is_now_is_the_last_one_the_log_states() -> None:
    """"Which build is it on now?" after a crash loop of the build before it: the last start names it."""
    log = Document("file:dispatch.log", "dispatch.log", "", kind="log")
    lines = ["09:02:41 [INF] Starting Dispatch.Api 3.14.0 (commit 4be81d2) on .NET 8.0.6",
             "09:02:42 [FTL] Host terminated",
             "09:03:19 [INF] Starting Dispatch.Api 3.14.0 (commit 4be81d2) on .NET 8.0.6",
             "09:03:20 [FTL] Host terminated",
             # the runtime's version is one kind whatever the commit before it
             "09:12:07 [INF] Starting Dispatch.Api 3.14.1 (commit 9f1c2ab) on .NET 8.0.6",
             "09:12:09 [INF] Now listening"]
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(lines, 1)]
    assert lookup_scores("which build is dispatch on now?", chunks).tolist() == [0.5, 0, 0.5, 0, 1, 0]
    assert lookup_scores("which version is currently deployed?", chunks).tolist() == [0.5, 0, 0.5, 0, 1, 0]
    assert lookup_scores("which dispatch version is gw1 runnning", chunks).tolist() == [0.5, 0, 0.5, 0, 1, 0]
    assert lookup_scores("which dispatch build is live rn?", chunks).tolist() == [0.5, 0, 0.5, 0, 1, 0]
    assert lookup_scores("which dispatch build? the deploy went thru?", chunks).tolist() == [0.5, 0, 0.5, 0, 1, 0]
    assert lookup_scores("the 9 o'clock release kept crashing, why?", chunks).tolist() == [0] * 6, "no version asked"
    assert lookup_scores("which version was deployed at nine?", chunks).tolist() == [1, 0, 1, 0, 1, 0]
    assert lookup_scores("which version was it running at nine?", chunks).tolist() == [1, 0, 1, 0, 1, 0]
    # after an upgrade or a deploy is as it is now
    assert lookup_scores("which version is dispatch on after the 9am deploy?", chunks).tolist() == [
        0.5, 0, 0.5, 0, 1, 0]


def test_the_last_version_of_each_kind_counts_when_a_start_up_also_names_its_runtime() -> None:
    """A kubelet start names its own version, then the container runtime's: "which version is it on now?"
    is the last kubelet version line, not only the runtime's line that follows it."""
    log = Document("file:kubelet.log", "kubelet.log", "", kind="log")
    lines = ['I0211 05:31:50.359964 3342 server.go:487] "Kubelet version" kubeletVersion="v1.29.3-eks-ae9a62a"',
             'I0211 05:31:50.713928 3342 kuberuntime_manager.go:258] "Container runtime initialized" version="1.7.11"',
             'I0211 06:45:07.237596 5120 server.go:487] "Kubelet version" kubeletVersion="v1.29.4-eks-036c24b"',
             'I0211 06:45:07.713928 5120 kuberuntime_manager.go:258] "Container runtime initialized" version="1.7.11"']
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(lines, 1)]
    assert lookup_scores("which version is the kubelet on now?", chunks).tolist() == [0.5, 0.5, 1, 1]


def test_the_version_of_what_the_question_names_and_not_a_newer_release_on_offer() -> None:
    """"Which tomcat version?": Tomcat's own version line, not the Tomcat Native library's; "which traefik version
    now?" after an upgrade that changed the log's format: the last "Traefik version" line, not the notice of a new
    release found."""
    log = Document("file:catalina.out", "catalina.out", "", kind="log")
    tomcat = ["11-Mar-2025 04:03:15.356 INFO [main] VersionLoggerListener Server version name: Apache Tomcat/9.0.86",
              "11-Mar-2025 04:03:15.492 INFO [main] AprLifecycleListener Loaded Apache Tomcat Native library [1.2.35]"]
    chunks = [Chunk(log, line, n, n) for n, line in enumerate(tomcat, 1)]
    assert lookup_scores("which tomcat version is portal-2 running?", chunks).tolist() == [1, 0.5]
    assert lookup_scores("which version is it running?", chunks).tolist() == [1, 1], "no kind named"
    edge = Document("file:traefik.log", "traefik.log", "", kind="log")
    lines = ['time="2025-03-13T00:14:52Z" level=warning msg="A new release of Traefik has been found: 3.0.4. Please '
             'consider updating."',
             'time="2025-03-13T03:06:21Z" level=info msg="Traefik version 2.11.2 built on 2024-04-11T09:08:44Z"',
             "2025-03-13T04:41:30Z INF Traefik version 3.0.4 built on 2024-07-02T13:46:37Z version=3.0.4"]
    chunks = [Chunk(edge, line, n, n) for n, line in enumerate(lines, 1)]
    assert lookup_scores("what traefik version is edge-3 on right now?", chunks).tolist() == [0, 0.5, 1]


def test_a_question_that_starts_with_who_weighs_who_acted_first() -> None:
    """"who brought it back and did they change anything?": the line that names who started it counts fully, however
    many other kinds the question asks for; asked the other way round, it counts as one of two."""
    log = Document("file:rs.log", "rs.log", "", kind="log")
    chunks = [Chunk(log, "06:47:14,159 INFO  [main] util.ServerCommandLine: env:SUDO_USER=lwang", 601, 601),
              Chunk(log, "06:47:15,883 INFO  [regionserver] Serving as hb-rs07, RpcServer on port 16020", 624, 624)]
    assert lookup_scores("who brought rs07 back and did they change anything?", chunks).tolist() == [1.0, 0.0]
    assert lookup_scores("did they change anything on rs07, and did somebody restart it by hand?",
                         chunks).tolist() == [0.5, 0.0]
