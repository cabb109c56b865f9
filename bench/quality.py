#!/usr/bin/env python
"""Answer quality: is the right document cited first, is the expected fact in the answer, is the
incident cited first for a log question; beside a baseline of plain MiniLM over runbook sections.

    python bench/quality.py                                    # our own sets (about a minute)
    python bench/quality.py --openshift ~/src/runbooks --alert-rules ~/src/cluster-monitoring-operator \\
        --loghub ~/src/loghub --out docs/quality.json          # and public material (a few minutes)

Sets (each question goes through ``worker.cli.ask``, the path of ``chatops ask --questions``):

- ``lookalike`` / ``lookalike-heldout``: 12 runbooks of look-alike services (bench/quality_sets/lookalike)
  with on-call questions written as symptoms and the fact each answer needs. The held-out questions were
  written with the others, before any tuning, and were not looked at while tuning; ``lookalike-heldout2``:
  a second held-out set, written later (before the tuning of its round) the same way.
  ``lookalike-heldout3``: a third held-out round (12 questions, one per runbook), never tuned on.
- ``lookalike5``: the fifth held-out round, written blind (by someone who had not seen the engine): a corpus
  of its own, 8 runbooks of 4 look-alike pairs (bench/quality_sets/lookalike5) and 16 symptom questions.
- ``lookalike6``: the sixth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike6) and 18 symptom questions.
- ``lookalike7``: the seventh held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike7) and 18 symptom questions.
- ``lookalike8``: the eighth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike8) and 18 symptom questions.
- ``lookalike9``: the ninth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike9) and 18 symptom questions.
- ``lookalike10``: the tenth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike10) and 18 symptom questions.
- ``lookalike11``: the eleventh held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike11) and 18 symptom questions.
- ``lookalike12``: the twelfth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike12) and 18 symptom questions.
- ``lookalike13``: the thirteenth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike13) and 18 symptom questions.
- ``lookalike14``: the fourteenth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike14) and 18 symptom questions.
- ``lookalike15``: the fifteenth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike15) and 18 symptom questions.
- ``lookalike16``: the sixteenth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike16) and 18 symptom questions.
- ``lookalike17``: the seventeenth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike17) and 18 symptom questions.
- ``lookalike18``: the eighteenth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike18) and 18 symptom questions.
- ``lookalike19``: the nineteenth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike19) and 18 symptom questions.
- ``lookalike20``: the twentieth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike20) and 18 symptom questions.
- ``lookalike21``: the twenty-first held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike21) and 18 symptom questions.
- ``lookalike22``: the twenty-second held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike22) and 18 symptom questions.
- ``lookalike23``: the twenty-third held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike23) and 18 symptom questions.
- ``lookalike24``: the twenty-fourth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike24) and 18 symptom questions.
- ``lookalike25``: the twenty-fifth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike25) and 18 symptom questions.
- ``lookalike26``: the twenty-sixth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike26) and 18 symptom questions.
- ``lookalike27``: the twenty-seventh held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike27) and 18 symptom questions.
- ``lookalike28``: the twenty-eighth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike28) and 18 symptom questions.
- ``lookalike29``: the twenty-ninth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike29) and 18 symptom questions.
- ``lookalike30``: the thirtieth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike30) and 18 symptom questions.
- ``lookalike31``: the thirty-first held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike31) and 18 symptom questions.
- ``lookalike32``: the thirty-second held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike32) and 18 symptom questions.
- ``lookalike33``: the thirty-third held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike33) and 18 symptom questions, most of them about the sibling that
  their wording does not suggest.
- ``lookalike34``: the thirty-fifth held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike34) and 18 symptom questions, half of them worded towards the
  sibling.
- ``lookalike35``: the thirty-seventh held-out round, written blind the same way: a new corpus of 8 runbooks of 4
  look-alike pairs (bench/quality_sets/lookalike35: a dam's spillway gates and turbine dispatch, a mill's loom
  scheduler and telemetry, a chocolate works' tempering and enrobing, a distillery's spirit safe and cask filling)
  and 18 symptom questions, 15 of them worded towards the sibling (its tool quoted as all green, its alert).
- ``logs`` / ``logs-heldout``: our logs with incidents (bench/quality_sets/logs, and examples/logs), each
  asked alone in ``/logs`` mode; the expected incident's line ranges and facts. ``logs-heldout2``: a
  PostgreSQL server log (a deadlock, a connection storm, a disk-full crash and its recovery), held out whole.
  ``logs-heldout3``: a Node.js JSON-lines worker log and a Redis replica log, held out whole, never tuned on.
  ``logs-heldout4``: an nginx error/access log, a MariaDB replica's error log and a Celery worker log,
  held out whole, never tuned on.
  ``logs-heldout5``: the fifth held-out round, written blind: a Kafka broker log, an HAProxy log and a
  MongoDB structured JSON log, held out whole.
  ``logs-heldout6``: the sixth held-out round, written blind: an OpenSearch node log, a RabbitMQ node log
  and a Vault server log, held out whole.
  ``logs-heldout7``: the seventh held-out round, written blind the same way: an etcd member log (zap JSON
  lines), a Cassandra system.log and a Prometheus server log (logfmt, with a Go runtime crash), held out whole.
  ``logs-heldout8``: the eighth held-out round, written blind the same way: a MySQL 8 replica's error log, a
  Sidekiq worker log (Ruby backtraces, a Redis outage) and a CoreDNS log (``kubectl logs --timestamps``), held
  out whole.
  ``logs-heldout9``: the ninth held-out round, written blind the same way: a Caddy JSON log (access, error and
  TLS lines), a ZooKeeper server log (Java stack traces, a leader election, a disk-full crash and restart) and a
  Nomad client log (hclog, with the agent's restart banner), held out whole.
  ``logs-heldout10``: the tenth held-out round, written blind the same way: a Keycloak log (Quarkus format, Java
  stack traces with ``Caused by``, an OOM crash and two restart banners), a systemd journal of a CI runner host
  (``journalctl -o short-iso``: kernel, containerd, dockerd, gitlab-runner, sshd) and an ASP.NET Core Serilog log
  (.NET exceptions with inner exceptions, Polly retries and circuit breaker, a startup crash loop), held out whole.
  ``logs-heldout11``: the eleventh held-out round, written blind the same way: a kubelet log (klog format, a Go
  panic with its goroutine trace and two restart banners), a Rails production log with Puma (request blocks, Ruby
  backtraces, a retry storm, worker kills and restarts) and a gunicorn/Django log (Python tracebacks with chained
  exceptions, worker timeouts, a crash loop after a deploy), held out whole.
  ``logs-heldout12``: the twelfth held-out round, written blind the same way: a Postfix maillog (syslog lines of
  smtpd, postscreen, qmgr, smtp, opendkim and systemd; a milter outage, a fatal restriction error after an upgrade),
  a Phoenix/Elixir Logger log (request metadata, Elixir stack traces, a GenServer crash and a BEAM heap crash with
  restart banners, a migration crash loop) and a ClickHouse server log (Keeper loss, C++ stack traces, a segfault
  with BaseDaemon lines and two startup banners), held out whole.
  ``logs-heldout13``: the thirteenth held-out round, written blind the same way: an Envoy front proxy log (access
  log lines in Envoy's default format mixed with its application log, health-check and outlier-ejection JSON events;
  xDS rejections, a segfault backtrace with a restart banner, an upgrade), a Jenkins controller log (Java stack
  traces, Kubernetes agent provisioning errors, a plugin dependency failure after an upgrade, an OOM with restart
  banners) and a PHP-FPM container log with Laravel, queue worker and supervisord lines (Laravel exception traces,
  pool saturation and slow-request traces, worker fatal errors and respawns), held out whole.
  ``logs-heldout14``: the fourteenth held-out round, written blind the same way: a Spring Boot (Logback console
  format) payments service log (Java stack traces with ``Caused by``, Resilience4j retries and circuit breaker, a
  HikariCP pool exhaustion with leak-detection traces, an OOM and a restart banner, a crash loop of
  ``APPLICATION FAILED TO START`` after a deploy), a Mosquitto MQTT broker log (bridge TLS failures, connections
  denied at ``max_connections``, persistence write errors, a certificate error after an upgrade) and a Rust service's
  ``tracing`` log (request spans, a panic with its backtrace and restarts, a database outage with retries, file
  descriptor exhaustion, an ``anyhow`` config error after a deploy), held out whole.
  ``logs-heldout15``: the fifteenth held-out round, written blind the same way: a Tomcat ``catalina.out`` (JULI
  one-line format mixed with the webapps' Logback lines; Java stack traces, a database outage, file descriptor
  exhaustion and a manual restart, a native JVM crash with its error report and restart banners, a webapp that fails
  to deploy after a release, a translation-warning flood), an Airflow scheduler log (Python tracebacks, a metadata
  database outage with a crash loop and the scheduler's restart banners, zombie tasks, a DAG import error after a
  push, a pool starved by a manual run, a deprecation-warning flood) and a Traefik log (logrus lines and access log
  lines, then the v3 console format after an upgrade; a backend outage, failed ACME renewals, a Go runtime crash
  with its goroutine dump and a restart, a crash loop on a removed flag, health-check noise, a client hammering the
  login), held out whole.
  ``logs-heldout16``: the sixteenth held-out round, written blind the same way: an AWS Lambda log exported from
  CloudWatch (``aws logs tail``: INIT_START, START/END/REPORT lines and the Python runtime's tab-separated lines;
  a poison SQS message failing with a ``KeyError`` traceback on every retry, a warehouse gateway refusing
  connections with retries and tracebacks then recovering, ``Task timed out`` on one tenant's huge export, an
  out-of-memory kill while rendering a PDF, ``Runtime.ImportModuleError`` on every cold start of a new version
  until the rollback, a deprecation-warning flood), a Ceph OSD log (Quincy; heartbeat failures on the cluster
  network and ``wrongly marked me down``, slow ops from one RBD client, a clock-skew warning flood, an I/O error
  abort with its backtrace, recent-events dump and restart banner, a deep-scrub read error leaving a pg
  inconsistent) and an Apache httpd container log (access lines in the combined format mixed with error_log lines;
  a mod_proxy backend refusing connections, password guessing on ``/admin/``, ``MaxRequestWorkers`` reached,
  gateway timeouts from a slow backend, a crash loop on a config syntax error after an upgrade with restart
  banners, a scraper denied ``/server-status`` every minute), held out whole.
  ``logs-heldout17``: the seventeenth held-out round, written blind the same way: a SQL Server 2022 errorlog from a
  Linux container (``docker logs``: startup banners, password guessing on ``sa``, slow I/O warnings during the full
  backup, log backups failing on a missing backup share until the transaction log is full with error 9002, deadlock
  graphs of trace flag 1222, ``max server memory`` set far too low with error 701 and a memory status dump, an access
  violation stack dump, error 17311 and a restart), a Hadoop YARN NodeManager log (log4j; Spark executors killed
  beyond their physical memory limit, a ResourceManager failover with retries and a Java stack trace, a local dir over
  the disk utilization threshold, an ``OutOfMemoryError: unable to create new native thread`` halt and a restart
  banner, a crash loop on a ``container-executor.cfg`` with the wrong owner after a config push) and a Squid 6
  container log (cache.log lines mixed with access.log lines in the native format; LDAP auth helpers saturated with a
  407 storm, a dead parent proxy with 503s until it revives, an internal host denied on odd ports, an assertion crash
  and a restart with a low file descriptor limit, file descriptor exhaustion and a restart, a crash loop on an
  undefined ACL after a reconfigure), held out whole.
  ``logs-heldout18``: the eighteenth held-out round, written blind the same way: a Grafana server log (logfmt; its
  MySQL database refusing connections with 500s and a failing health check until it returns, password guessing on
  ``/login`` until the user is blocked, Slack notifications failing with ``channel_not_found``, a Prometheus
  datasource slowing down then timing out, a crash loop on an invalid datasource provisioning file with restart
  banners), an OpenLDAP slapd syslog (syncrepl retries while the provider is down, a bind spray with ``err=49``, the
  MDB map full failing every HR sync write, ``accept`` failing with too many open files, a restart loop on an
  unreadable TLS key after a certificate swap, a flood of ``not indexed`` warnings) and a Fluent Bit DaemonSet log
  (a forward aggregator refusing connections with retried and dropped chunks, Loki rate-limiting with HTTP 429, a
  SIGSEGV in the Lua filter with its backtrace and restart banner, a crash loop on a missing parser after an upgrade,
  a file skipped for long lines), held out whole.
  ``logs-heldout19``: the nineteenth held-out round, written blind the same way: a Consul server agent log (hclog; a
  raft peer refusing connections through a leader election until it rejoins, anonymous probing of the ACL-protected HTTP
  API from one address, file descriptor exhaustion, a full data disk losing the leadership, a WAN federation warning
  flood, a Go nil pointer panic with its goroutine trace and restart banner, a restart loop on an HCL syntax error after
  a config push), an Asterisk PBX full log (a SIP REGISTER brute force from one address, the carrier trunk unreachable
  with registration retries and failed outbound calls, a taskprocessor queue warning flood, call recordings failing on a
  full spool volume, an assertion with its backtrace and a restart banner, a crash loop on a required ``chan_sip.so``
  after the upgrade to 21, FastAGI lookups slowing down then timing out) and a Zabbix server log (PostgreSQL refusing
  connections with reconnects, a scan of the trapper port, the configuration cache out of memory with its backtrace and
  a failed restart, slow queries then statement timeouts during a long housekeeper run, an active checks warning flood,
  a SIGSEGV in an SNMP poller with its fatal report and restart banner), held out whole.
  ``logs-heldout20``: the twentieth held-out round, written blind the same way: a NATS server log (nats-server 2.10 with
  JetStream, ``docker logs`` with debug lines; a cluster peer refusing route connections until it comes back, password
  guessing from one address, a Go panic in the file store with its goroutine trace and a restart banner, JetStream
  disabled when its volume fills up, a failed config reload then a crash loop on an invalid ``lame_duck_duration``), a
  BIND 9.18 ``named -g`` log (a secondary whose primary refuses refreshes and transfers until its notify, zone transfer
  attempts from one internal host, TCP accepts failing with too many open files, an ``INSIST`` assertion with its back
  trace and a restart banner, a crash loop on the removed ``dnssec-enable`` option, a forwarder timing out with hung
  fetches, an IPv6 unreachable flood) and a Kea DHCPv4 2.6 log (a device declining every address it is offered, the
  PostgreSQL lease database refusing reconnects until it returns, the guest pool exhausted, the HA partner timing out
  until the partner-down state, a crash loop on a duplicate subnet ID after a config push), held out whole.
  ``logs-heldout21``: the twenty-first held-out round, written blind the same way: a Dovecot 2.3 syslog (imap-login,
  imap, lmtp, auth and master lines; password guessing from one address, the LDAP server lost with logins and
  deliveries failing until it returns, the TLS certificate expiring with clients refusing it until a reload, a
  ``Panic`` assertion with its raw backtrace killing one user's imap process three times, the mail volume full, a
  failed reload on a syntax error in ``90-quota.conf``, one mailbox over quota, ``process_limit`` reached and a
  restart, a deprecation-warning flood), a FreeRADIUS 3.2 ``radius.log`` (the LDAP server unreachable with VPN logins
  rejected, the accounting database refusing connections until it returns, a new switch with the wrong shared secret,
  an account locked out by one phone, the EAP certificate expiring until a restart, a segfault in ``rlm_python3`` with
  its backtrace and a restart, twice, a crash loop on a parse error in ``sites-enabled/default``, a BlastRADIUS
  warning after every start) and a Slurm 23.02 ``slurmctld`` log (four nodes not responding with jobs killed and
  requeued until they return, slurmdbd refusing connections, expired munge credentials from a node with a slow clock,
  the state save location full with submissions failing, a failed reconfigure then a crash loop on an unknown key in
  ``slurm.conf`` and a restart banner, an ``squeue`` loop flooding the controller, a node drained twice on
  ``Kill task failed``), held out whole.
  ``logs-heldout22``: the twenty-second held-out round, written blind the same way: a strongSwan 5.9 charon syslog (a
  site-to-site peer not answering dead-peer detection until it connects back, a client refused on an expired
  certificate, half-open handshakes from one address, a segfault with its backtrace and a restart, the address pool
  full, a failed ``ipsec update`` then a crash loop on an ``ipsec.conf`` error), an Apache Flink 1.18 JobManager log
  (a Kafka broker down with a job failing on a ``TimeoutException``, checkpoints failing on an expired S3 token, HTTP
  sent to the RPC port from one address, a TaskManager out of heap memory, an expired checkpoint and a flood of
  late-message warnings, a crash loop on a ``flink-conf.yaml`` error with version banners) and a Matrix Synapse
  homeserver log (federation to one partner failing on DNS until it answers again, one user's failed logins until
  rate-limited, ``/register`` spam from one address, the database restarted with a traceback, media uploads failing on
  a full disk, a crash loop on a rotated database password, a flood of harmless disconnect warnings), held out whole.
  ``logs-heldout23``: the twenty-third held-out round, written blind the same way: a PgBouncer 1.22 log (one role's
  failed logins from one address, the PostgreSQL server gone and back with clients timing out, harmless health-check
  disconnects, waits growing under a batch job until ``query_wait_timeout``, a reload failing on a ``pgbouncer.ini``
  syntax error, a connection flood from one address up to ``max_client_conn``, a restart with its version), an
  OpenVPN 2.6 server log (a crash loop on a missing certificate file, a scan failing the tls-crypt check from one
  address, one certificate used on two machines, one user's failed password logins, an uplink outage dropping every
  client then a burst of harmless old-client warnings, an expired client certificate) and a containerd 1.7 journal
  (a registry refusing connections during a deploy, a nil-pointer panic with its goroutine trace and a restart, the
  disk full on a large image, harmless ``NotFound`` noise, a container OOM-killed again and again, image pulls
  refused with 401, a crash loop on a config error), held out whole.
  ``logs-heldout24``: the twenty-fourth held-out round, written blind the same way: an ActiveMQ Classic 5.18 broker log
  (the network connector to the second datacentre down and back, one user's failed logins after a password
  rotation, the message store full with producers blocked, harmless health-check noise from a new load balancer,
  an out-of-memory crash with its stack trace and a restart with its version, a crash loop on a configuration
  typo, a scanner on one address up to the connection limit), an Exim 4.96 main log (the antivirus daemon down with
  mail deferred, a password brute force from one address, a partner's expired certificate holding one user's mail,
  the internal mailbox server down then the queue flushed, the spool disk full, a startup loop on port 25 in use
  then a restart with its version, harmless TLS errors from the monitoring host) and a Nagios Core 4.4 log (Unix
  epoch times: a core switch down with the hosts behind it unreachable, a database disk full on failing WAL
  archiving, one contact's SMS pages refused with 401, a shop certificate expired, a decommissioned host flooding
  passive results, a crash loop on a configuration error after a reload then a restart with its version, harmless
  NTP flapping on a sandbox), held out whole.
  ``logs-heldout25``: the twenty-fifth held-out round, written blind the same way: a CockroachDB 23.1 node log
  (crdb-v2 format), a Spring Boot 3.1 service's Logback console log and a Gitea 1.21 log, held out whole.
  ``logs-heldout26``: the twenty-sixth held-out round, written blind the same way: a Samba 4.17 ``log.smbd``, a
  Pacemaker/Corosync cluster node's journal and an ASP.NET Core service's Serilog file log, held out whole.
  ``logs-heldout27``: the twenty-seventh held-out round, written blind the same way: an Icinga 2 main log, a uWSGI
  server's log and a Node.js (Fastify) service's pino JSON lines, held out whole.
  ``logs-heldout28``: the twenty-eighth held-out round, written blind the same way: an OpenStack nova-compute log,
  an Oracle Database alert log and a Temporal history service's zap JSON lines, held out whole.
  ``logs-heldout29``: the twenty-ninth held-out round, written blind the same way: a JBoss EAP (WildFly) server.log,
  a Cisco ASA firewall's syslog and a MinIO server's JSON lines, held out whole.
  ``logs-heldout30``: the thirtieth held-out round, written blind the same way: a Go service's zap JSON lines
  (stack traces inside the JSON), an Apache Solr 9 log and a load balancer's syslog (Keepalived, BIRD, chronyd,
  kernel), held out whole.
  ``logs-heldout31``: the thirty-first held-out round, written blind the same way: a Kubernetes apiserver's klog
  (with its Trace blocks), a .NET service's Serilog compact JSON lines (stack traces inside the JSON) and an
  ejabberd (Erlang/OTP) log with crash and supervisor reports, held out whole.
  ``logs-heldout32``: the thirty-second held-out round, written blind the same way: a Node.js service's pino JSON
  lines (numeric levels, stacks inside the JSON), a Trino coordinator's server.log and a FortiGate firewall's
  key=value log, held out whole.
  ``logs-heldout33``: the thirty-third held-out round, written blind the same way: a Logstash plain log, a Bareos
  director log and a Windows Event Viewer export as CSV (quoted messages over several lines), held out whole.
  ``logs-heldout34``: the thirty-fourth held-out round, written blind the same way (with round 33): another Bareos
  director log, a Kong gateway's error.log and a Puppet agent's log, held out whole.
  ``logs-heldout35``: the thirty-fifth held-out round, written blind the same way (with ``lookalike34``): a Patroni
  replica's journal, an HBase RegionServer log and a Juniper router's syslog, held out whole.
  ``logs-heldout36``: the thirty-sixth held-out round, written blind the same way (with round 35): a Zimbra
  mailbox.log, IBM Db2's db2diag.log and an Argo CD application controller's log, held out whole.
  ``logs-heldout37``: the thirty-seventh held-out round, written blind the same way (with ``lookalike35``): an MIT
  Kerberos KDC log, a VMware ESXi hostd.log and an Odoo server log, held out whole.
  ``logs-heldout38``: the thirty-eighth held-out round, written blind the same way (with round 37): a Proxmox VE
  node's syslog, an Alertmanager logfmt log and a Sonatype Nexus nexus.log, held out whole.
- ``openshift-alerts`` and ``openshift-alerts+name`` (``--openshift`` with ``--alert-rules``): the
  openshift/runbooks alert runbooks as the documents, and as questions the alert texts (summary and
  description, label templates filled with the label's name) of every alert whose ``runbook_url`` points
  at one of them, read from PrometheusRule YAML files (for example a clone of
  openshift/cluster-monitoring-operator); without and with the alert name in front, as Alertmanager
  shows it.
- ``openshift-names`` (``--openshift``): "<AlertName> is firing, what do I do?" for every runbook.
- ``loghub`` (``--loghub``): loghub's 2k-line sample logs that label their lines (a ``Label`` other than
  ``-`` or a ``Level`` of error or worse; warnings when a log has nothing worse): BGL, HDFS, Hadoop,
  Zookeeper, OpenStack, Apache, Android. Questions: three general ones per log ("What failures does this
  log show?"...) and "Why did <component> fail?" for the two components with the most labelled lines.
  An incident is cited first when the first citation's lines hold a labelled line; the fact is the
  text of a labelled line (of that component).

``--openshift`` and ``--loghub`` take a checkout or a bare git directory (``git clone --depth 1
https://github.com/openshift/runbooks``; ``https://github.com/logpai/loghub``); nothing of theirs is
copied into this repository. The baseline ranks every section of every runbook (heading path and text,
as MiniLM reads them) by cosine similarity with the question; for logs, the engine's chunks. Its fact
column is whether the fact is anywhere in its top section (or chunk): what a reader of that section
would find. With ``CLARA_CHECKPOINT`` set (and ``CLARA_BASE_MODEL``) the same sets run with CLaRa too.
Prints one table, and with ``--out`` writes every answer and figure as JSON.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from jobs.payload import QuestionJob  # noqa: E402
from worker.cli import ask, local_pipeline  # noqa: E402
from worker.documents.runbook_lookup import runbook_sections  # noqa: E402
from worker.engine.base import Engine  # noqa: E402
from worker.engine.default import EmbeddingCache, ExtractiveEngine, MiniLMRetriever, load_embeddings  # noqa: E402
from worker.index.chunk_index import ChunkIndex, embedding_text  # noqa: E402
from worker.pipeline import AnswerPipeline  # noqa: E402
from worker.runtime import engine_index, load_engine  # noqa: E402
from worker.settings import WorkerSettings  # noqa: E402

SETS = REPO / "bench" / "quality_sets"
LOG_QUESTIONS = ("What failures does this log show?", "Where is the error in this log?", "What went wrong here?")


@dataclass(frozen=True)
class Case:
    """One question and what a good answer has."""

    set: str
    question: str
    docs: Path  # the runbook folder (an empty one for log questions)
    files: tuple[Path, ...] = ()
    mode: str = "ask"
    documents: tuple[str, ...] = ()  # doc ids, any of which is the right one to cite first
    facts: tuple[str, ...] = ()  # any of these in the answer
    incidents: tuple[tuple[int, int], ...] = ()  # line ranges, any of which is the incident to cite first
    incident_question: bool = False


@dataclass
class Outcome:
    case: Case
    record: dict[str, Any]
    document_first: bool | None = None
    fact: bool | None = None
    incident_first: bool | None = None
    baseline_document_first: bool | None = None
    baseline_fact: bool | None = None
    baseline_incident_first: bool | None = None
    engine: str = "default"


# ---- our sets --------------------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def lookalike_cases() -> list[Case]:
    """Our look-alike runbook sets: the first corpus with its questions and three held-out question files,
    then the held-out rounds from 5 on, each with its own corpus."""
    first = SETS / "lookalike"
    sets = [("lookalike", first, "questions.jsonl"), ("lookalike-heldout", first, "heldout.jsonl"),
            ("lookalike-heldout2", first, "heldout2.jsonl"), ("lookalike-heldout3", first, "heldout3.jsonl"),
            *((f"lookalike{n}", SETS / f"lookalike{n}", "questions.jsonl") for n in range(5, 36))]
    return [Case(name, row["question"], root / "runbooks", documents=(f"runbook:{row['document']}",),
                 facts=tuple(row["facts"]))
            for name, root, file in sets for row in _jsonl(root / file)]


def log_cases(empty: Path) -> list[Case]:
    root = SETS / "logs"
    cases = []
    for name, file in (("logs", "questions.jsonl"), ("logs-heldout", "heldout.jsonl"),
                       *((f"logs-heldout{n}", f"heldout{n}.jsonl") for n in range(2, 39))):
        for row in _jsonl(root / file):
            log = (root / row["log"]).resolve()
            incidents = tuple((int(a), int(b)) for a, b in row["incidents"])
            cases.append(Case(name, row["question"], empty, files=(log,), mode="logs",
                              documents=(f"file:{log}",), facts=tuple(row["facts"]), incidents=incidents,
                              incident_question=bool(incidents)))
    return cases


# ---- public material, read from a local checkout or git directory --------------------------------


def tree(source: Path, subdir: str, scratch: Path) -> Path:
    """``source/subdir`` of a checkout, or extracted from a bare git directory's HEAD into ``scratch``."""
    if (source / subdir).is_dir():
        return source / subdir
    if not (source / "HEAD").is_file():
        raise SystemExit(f"{source} is neither a checkout with {subdir}/ nor a git directory")
    archive = subprocess.run(["git", f"--git-dir={source}", "archive", "--format=tar", "HEAD", subdir],
                             check=True, capture_output=True).stdout
    target = scratch / source.name.replace("/", "_")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / subdir


def git_files(source: Path, suffixes: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(path, text) of the files of a checkout or a bare git directory's HEAD that end with ``suffixes``."""
    if not (source / "HEAD").is_file() or (source / ".git").exists():
        for path in sorted(source.rglob("*")):
            if path.suffix in suffixes and path.is_file() and ".git" not in path.parts:
                yield str(path.relative_to(source)), path.read_text(errors="replace")
        return
    names = subprocess.run(["git", f"--git-dir={source}", "ls-tree", "-r", "--name-only", "HEAD"],
                           check=True, capture_output=True, text=True).stdout.split("\n")
    for name in names:
        if name.endswith(suffixes):
            text = subprocess.run(["git", f"--git-dir={source}", "show", f"HEAD:{name}"], capture_output=True,
                                  text=True, errors="replace").stdout
            yield name, text


_TEMPLATE = re.compile(r"\{\{(.*?)\}\}")
_RUNBOOK_URL = re.compile(r"openshift/runbooks/blob/[^/]+/alerts/(\S+\.md)")


def _fill(text: str) -> str:
    """Alert templates as a person would see them rendered: a label's name for ``$labels.x``, a number
    for anything else."""
    def value(match: re.Match[str]) -> str:
        label = re.search(r"\$labels\.(\w+)", match.group(1))
        return label.group(1) if label else "42"
    return " ".join(_TEMPLATE.sub(value, text).split())


def alert_rules(sources: Sequence[Path]) -> Iterator[tuple[str, str, str]]:
    """(alert name, runbook path under alerts/, alert text) of every alerting rule with an openshift
    runbook_url in the YAML files under ``sources``."""
    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if "alert" in node and isinstance(node.get("annotations"), dict):
                yield node
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for source in sources:
        for _name, text in git_files(source, (".yaml", ".yml")):
            if "openshift/runbooks" not in text:
                continue
            try:
                documents = list(yaml.safe_load_all(text))
            except yaml.YAMLError:
                continue
            for document in documents:
                for rule in walk(document):
                    notes = rule["annotations"]
                    url = _RUNBOOK_URL.search(str(notes.get("runbook_url", "")))
                    words = [str(notes[k]) for k in ("summary", "description", "message") if notes.get(k)]
                    if url and words:
                        yield str(rule["alert"]), url.group(1), _fill(" ".join(dict.fromkeys(words)))


def openshift_cases(source: Path, rules: Sequence[Path], scratch: Path, names_limit: int) -> list[Case]:
    alerts = tree(source, "alerts", scratch)
    runbooks = {p.relative_to(alerts).as_posix() for p in alerts.rglob("*.md")}
    by_stem: dict[str, list[str]] = {}
    for path in sorted(runbooks):
        by_stem.setdefault(Path(path).stem, []).append(f"runbook:{path}")
    cases = []
    seen: set[str] = set()
    for alert, path, text in alert_rules(rules):
        if path not in runbooks or alert in seen:
            continue
        seen.add(alert)
        expected = tuple(by_stem.get(Path(path).stem, [f"runbook:{path}"]))
        cases.append(Case("openshift-alerts", text, alerts, documents=expected))
        cases.append(Case("openshift-alerts+name", f"[FIRING:1] {alert}: {text}", alerts, documents=expected))
    stems = sorted(by_stem)
    step = max(1, len(stems) // names_limit) if names_limit else 1
    for stem in stems[::step][: names_limit or None]:
        cases.append(Case("openshift-names", f"{stem} is firing, what do I do?", alerts,
                          documents=tuple(by_stem[stem])))
    return cases


_SEVERE = {"FATAL", "ERROR", "SEVERE", "CRITICAL", "E", "F", "error", "crit", "alert", "emerg"}
_WARN = {"WARN", "WARNING", "W", "warn", "warning"}


def loghub_cases(source: Path, scratch: Path, empty: Path) -> list[Case]:
    cases = []
    for system in ("BGL", "HDFS", "Hadoop", "Zookeeper", "OpenStack", "Apache", "Android"):
        root = tree(source, system, scratch)
        log = root / f"{system}_2k.log"
        rows = list(csv.DictReader((root / f"{system}_2k.log_structured.csv").open(errors="replace")))
        labelled = [r for r in rows if r.get("Label", "-") != "-" or r.get("Level") in _SEVERE]
        if not labelled:
            labelled = [r for r in rows if r.get("Level") in _WARN]
        if not labelled:
            continue
        lines = tuple((int(r["LineId"]), int(r["LineId"])) for r in labelled)
        facts = tuple(dict.fromkeys(r["Content"][:60].strip() for r in labelled))
        doc = (f"file:{log}",)
        for question in LOG_QUESTIONS:
            cases.append(Case("loghub", question, empty, files=(log,), mode="logs", documents=doc, facts=facts,
                              incidents=lines, incident_question=True))
        components = Counter(r["Component"] for r in labelled if r.get("Component"))
        for component, _ in components.most_common(2):
            mine = [r for r in labelled if r["Component"] == component]
            short = re.split(r"[.$]", component)[-1] or component
            cases.append(Case("loghub", f"Why did {short} fail?", empty, files=(log,), mode="logs", documents=doc,
                              facts=tuple(dict.fromkeys(r["Content"][:60].strip() for r in mine)),
                              incidents=tuple((int(r["LineId"]), int(r["LineId"])) for r in mine),
                              incident_question=True))
    return cases


# ---- scoring -----------------------------------------------------------------------------------------


_EMPHASIS = str.maketrans("", "", "*`")  # markdown emphasis and code marks: "**22% VWC** at 20 cm" states the fact


def _normal(text: str) -> str:
    """Lower case, one space between words, without quote marks at line starts and without emphasis or code marks
    (``_EMPHASIS``), for the answer and the facts alike."""
    text = "\n".join(line[2:] if line.startswith("> ") else line for line in text.split("\n"))
    return " ".join(text.translate(_EMPHASIS).lower().split())


def has_fact(text: str, facts: Iterable[str]) -> bool:
    normal = _normal(text)
    return any(_normal(f) in normal for f in facts)


def overlaps(start: int, end: int, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(start <= b and a <= end for a, b in ranges)


class Baseline:
    """Plain MiniLM: runbook sections (heading path and text) or, for logs, the engine's chunks, ranked
    by cosine similarity alone."""

    def __init__(self, cache: EmbeddingCache) -> None:
        self.cache = cache

    def judge(self, pipeline: AnswerPipeline, case: Case, outcome: Outcome) -> None:
        job = QuestionJob(question=case.question, channel="cli", user="cli", mode=case.mode, source="cli")
        documents = pipeline.gather(job).documents
        question = self.cache.embed([case.question])[0]
        if case.mode == "logs":
            chunks = pipeline.index.candidates(documents).chunks
            if not chunks:
                return
            best = chunks[int(np.argmax(self.cache.embed([embedding_text(c) for c in chunks]) @ question))]
            outcome.baseline_document_first = best.document.doc_id in case.documents
            outcome.baseline_fact = has_fact(best.text, case.facts) if case.facts else None
            if case.incident_question:
                outcome.baseline_incident_first = overlaps(best.line_start, best.line_end, case.incidents)
            return
        sections = [s for d in documents for s in runbook_sections(d) if s.own_text.strip()]
        texts = [" › ".join(dict.fromkeys((s.document.title, *s.path))) + "\n" + s.own_text for s in sections]
        best_section = sections[int(np.argmax(self.cache.embed(texts) @ question))]
        outcome.baseline_document_first = best_section.document.doc_id in case.documents
        outcome.baseline_fact = has_fact(best_section.own_text, case.facts) if case.facts else None


Pipelines = dict[tuple[Path, tuple[Path, ...]], AnswerPipeline]


def run(cases: Sequence[Case], engine: Engine, engine_label: str, baseline: Baseline | None,
        progress: bool = False, pipelines: Pipelines | None = None, index: ChunkIndex | None = None
        ) -> list[Outcome]:
    """Ask every case through ``worker.cli.ask`` and judge the answers (one pipeline per set of documents,
    kept in ``pipelines`` so that a later run reuses its chunks; one index, in this process, for all)."""
    pipelines = {} if pipelines is None else pipelines
    settings = WorkerSettings.from_env(os.environ)
    index = index or engine_index(engine, None, settings.index)
    outcomes = []
    for number, case in enumerate(cases, start=1):
        key = (case.docs, case.files)
        if key not in pipelines:
            pipelines[key] = local_pipeline(engine, index, settings, case.docs, list(case.files))
        record = ask(pipelines[key], case.question, case.mode)
        outcome = Outcome(case, record, engine=engine_label)
        citations = record.get("citations") or []
        if citations:
            first = citations[0]
            outcome.document_first = first["doc_id"] in case.documents
            if case.incident_question:
                outcome.incident_first = outcome.document_first and overlaps(
                    first["line_start"], first["line_end"], case.incidents)
        else:
            outcome.document_first = False
            outcome.incident_first = False if case.incident_question else None
        if case.facts:
            outcome.fact = has_fact(record.get("answer", ""), case.facts)
        if baseline is not None:
            baseline.judge(pipelines[key], case, outcome)
        outcomes.append(outcome)
        if progress:
            print(f"\r{engine_label}: {number}/{len(cases)}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return outcomes


def _rate(values: Sequence[bool | None]) -> tuple[int, int]:
    known = [v for v in values if v is not None]
    return sum(known), len(known)


def summary(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    rows = []
    for engine in dict.fromkeys(o.engine for o in outcomes):
        for name in dict.fromkeys(o.case.set for o in outcomes):
            mine = [o for o in outcomes if o.case.set == name and o.engine == engine]
            if not mine:
                continue
            seconds = sorted(float(o.record.get("seconds", 0.0)) for o in mine)
            rows.append({
                "set": name, "engine": engine, "questions": len(mine),
                "document_first": _rate([o.document_first for o in mine]),
                "fact": _rate([o.fact for o in mine]),
                "incident_first": _rate([o.incident_first for o in mine]),
                "baseline_document_first": _rate([o.baseline_document_first for o in mine]),
                "baseline_fact": _rate([o.baseline_fact for o in mine]),
                "baseline_incident_first": _rate([o.baseline_incident_first for o in mine]),
                "seconds_p50": round(statistics.median(seconds), 3),
                "seconds_p95": round(seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))], 3),
            })
    return rows


def _cell(hits_total: tuple[int, int]) -> str:
    hits, total = hits_total
    return f"{hits}/{total} {100 * hits / total:5.1f}%" if total else "—"


def table(rows: Sequence[dict[str, Any]]) -> str:
    head = ("| set | engine | n | right doc first | baseline | fact in answer | baseline (top section) "
            "| incident first | baseline | s/question p50 / p95 |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(f"| {r['set']} | {r['engine']} | {r['questions']} | {_cell(r['document_first'])} "
                     f"| {_cell(r['baseline_document_first'])} | {_cell(r['fact'])} | {_cell(r['baseline_fact'])} "
                     f"| {_cell(r['incident_first'])} | {_cell(r['baseline_incident_first'])} "
                     f"| {r['seconds_p50']:.2f} / {r['seconds_p95']:.2f} |")
    return "\n".join(lines)


def failures(outcomes: Sequence[Outcome]) -> Iterator[str]:
    """Misses of the sets that are not held out (held-out misses are not shown: they are not for tuning)."""
    for o in outcomes:
        if "heldout" in o.case.set or o.case.set.removeprefix("lookalike").isdigit():
            continue
        missed = [n for n, v in (("document", o.document_first), ("fact", o.fact), ("incident", o.incident_first))
                  if v is False]
        if missed:
            cited = o.record.get("citations") or [{}]
            yield (f"[{o.case.set}] {'/'.join(missed)} missed: {o.case.question!r}\n"
                   f"  expected {o.case.documents} {o.case.facts[:2]} {o.case.incidents[:3]}\n"
                   f"  cited {cited[0].get('doc_id')}:{cited[0].get('line_start')}-{cited[0].get('line_end')}\n"
                   + "\n".join("  | " + line for line in str(o.record.get("answer", o.record)).split("\n")[:12]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--openshift", type=Path, help="openshift/runbooks: a checkout or a git directory")
    parser.add_argument("--alert-rules", type=Path, action="append", default=[],
                        help="a checkout or git directory with PrometheusRule YAML (repeatable)")
    parser.add_argument("--names-limit", type=int, default=80,
                        help="openshift-names questions (an even sample of the runbooks; 0: all)")
    parser.add_argument("--loghub", type=Path, help="logpai/loghub: a checkout or a git directory")
    parser.add_argument("--only", action="append", default=[], help="run only these sets (repeatable)")
    parser.add_argument("--no-own", action="store_true", help="skip our own sets")
    parser.add_argument("--show-failures", action="store_true", help="print misses (never of held-out sets)")
    parser.add_argument("--out", type=Path, help="write every answer and the figures as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="quality-") as scratch_name:
        scratch = Path(scratch_name)
        empty = scratch / "no-runbooks"
        empty.mkdir()
        cases: list[Case] = [] if args.no_own else [*lookalike_cases(), *log_cases(empty)]
        if args.openshift:
            cases += openshift_cases(args.openshift, args.alert_rules, scratch, args.names_limit)
        if args.loghub:
            cases += loghub_cases(args.loghub, scratch, empty)
        if args.only:
            cases = [c for c in cases if c.set in args.only]
        if not cases:
            print("no questions to ask", file=sys.stderr)
            return 1

        settings = WorkerSettings.from_env(os.environ)
        started = time.perf_counter()
        default = ExtractiveEngine(MiniLMRetriever(load_embeddings(settings.retriever_device,
                                                                    settings.retriever_precision)),
                                   top_k=settings.top_k)
        outcomes = run(cases, default, "default", Baseline(default.retriever.cache), sys.stderr.isatty())
        if settings.clara.enabled:
            clara = load_engine(settings)
            outcomes += run(cases, clara, "clara", None, sys.stderr.isatty())
        else:
            print("CLaRa: no checkpoint configured (CLARA_CHECKPOINT, CLARA_BASE_MODEL): the default engine only",
                  file=sys.stderr)
        elapsed = time.perf_counter() - started

    rows = summary(outcomes)
    print(table(rows))
    print(f"\n{len(cases)} questions in {elapsed:.0f} s")
    if args.show_failures:
        for failure in failures(outcomes):
            print("\n" + failure)
    if args.out:
        payload = {"figures": rows, "seconds": round(elapsed, 1),
                   "answers": [{**asdict(o), "case": {**asdict(o.case), "docs": str(o.case.docs),
                                                       "files": [str(f) for f in o.case.files]}} for o in outcomes]}
        args.out.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
