CREATE DATABASE IF NOT EXISTS hostflow ON CLUSTER flows;

CREATE TABLE IF NOT EXISTS hostflow.flows_local ON CLUSTER flows (
  TimeReceived DateTime CODEC(DoubleDelta, LZ4),
  SamplingRate UInt64,
  ExporterAddress IPv6,
  ExporterName LowCardinality(String),
  ExporterGroup LowCardinality(String),
  ExporterRole LowCardinality(String),
  ExporterSite LowCardinality(String),
  ExporterRegion LowCardinality(String),
  ExporterTenant LowCardinality(String),
  InIf UInt32,
  OutIf UInt32,
  InIfName LowCardinality(String),
  OutIfName LowCardinality(String),
  InIfDescription LowCardinality(String),
  OutIfDescription LowCardinality(String),
  InIfSpeed UInt32,
  OutIfSpeed UInt32,
  InIfConnectivity LowCardinality(String),
  OutIfConnectivity LowCardinality(String),
  InIfProvider LowCardinality(String),
  OutIfProvider LowCardinality(String),
  InIfBoundary Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
  OutIfBoundary Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
  InIfKind LowCardinality(String),
  OutIfKind LowCardinality(String),
  SrcAddr IPv6 CODEC(ZSTD(1)),
  DstAddr IPv6 CODEC(ZSTD(1)),
  SrcNetMask UInt8,
  DstNetMask UInt8,
  SrcAS UInt32,
  DstAS UInt32,
  SrcNetName LowCardinality(String),
  DstNetName LowCardinality(String),
  SrcNetRole LowCardinality(String),
  DstNetRole LowCardinality(String),
  SrcNetSite LowCardinality(String),
  DstNetSite LowCardinality(String),
  SrcNetRegion LowCardinality(String),
  DstNetRegion LowCardinality(String),
  SrcNetTenant LowCardinality(String),
  DstNetTenant LowCardinality(String),
  SrcCountry FixedString(2),
  DstCountry FixedString(2),
  SrcGeoCity LowCardinality(String),
  DstGeoCity LowCardinality(String),
  SrcVlan UInt16,
  DstVlan UInt16,
  SrcMAC UInt64,
  DstMAC UInt64,
  NextHop IPv6 CODEC(ZSTD(1)),
  EType UInt32,
  Proto UInt32,
  SrcPort UInt16,
  DstPort UInt16,
  TCPFlags UInt16,
  IPTos UInt8,
  IPTTL UInt8,
  IPv6FlowLabel UInt32,
  IPFragmentID UInt32,
  IPFragmentOffset UInt16,
  ICMPType UInt8,
  ICMPCode UInt8,
  FlowDirection Enum8('undefined' = 0, 'ingress' = 1, 'egress' = 2),
  ForwardingStatus UInt32,
  HostName LowCardinality(String),
  ProcessName LowCardinality(String),
  ProcessID UInt32,
  ProcessUser LowCardinality(String),
  Cgroup LowCardinality(String),
  Unit LowCardinality(String),
  Container LowCardinality(String),
  TCPRTT UInt32,
  TCPRetrans UInt32,
  Bytes UInt64 CODEC(T64, LZ4),
  Packets UInt64 CODEC(T64, LZ4)
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/hostflow/flows_local', '{replica}')
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (toStartOfFiveMinutes(TimeReceived), ExporterAddress, InIfName, OutIfName)
TTL TimeReceived + toIntervalSecond(1296000)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS hostflow.flows ON CLUSTER flows AS hostflow.flows_local ENGINE = Distributed(flows, hostflow, flows_local, rand());

CREATE TABLE IF NOT EXISTS hostflow.flows_1m_local ON CLUSTER flows (
  TimeReceived DateTime CODEC(DoubleDelta, LZ4),
  SamplingRate UInt64,
  ExporterAddress IPv6,
  ExporterName LowCardinality(String),
  ExporterGroup LowCardinality(String),
  ExporterRole LowCardinality(String),
  ExporterSite LowCardinality(String),
  ExporterRegion LowCardinality(String),
  ExporterTenant LowCardinality(String),
  InIf UInt32,
  OutIf UInt32,
  InIfName LowCardinality(String),
  OutIfName LowCardinality(String),
  InIfDescription LowCardinality(String),
  OutIfDescription LowCardinality(String),
  InIfSpeed UInt32,
  OutIfSpeed UInt32,
  InIfConnectivity LowCardinality(String),
  OutIfConnectivity LowCardinality(String),
  InIfProvider LowCardinality(String),
  OutIfProvider LowCardinality(String),
  InIfBoundary Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
  OutIfBoundary Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
  InIfKind LowCardinality(String),
  OutIfKind LowCardinality(String),
  SrcAS UInt32,
  DstAS UInt32,
  SrcNetName LowCardinality(String),
  DstNetName LowCardinality(String),
  SrcNetRole LowCardinality(String),
  DstNetRole LowCardinality(String),
  SrcNetSite LowCardinality(String),
  DstNetSite LowCardinality(String),
  SrcNetRegion LowCardinality(String),
  DstNetRegion LowCardinality(String),
  SrcNetTenant LowCardinality(String),
  DstNetTenant LowCardinality(String),
  SrcCountry FixedString(2),
  DstCountry FixedString(2),
  SrcGeoCity LowCardinality(String),
  DstGeoCity LowCardinality(String),
  EType UInt32,
  Proto UInt32,
  FlowDirection Enum8('undefined' = 0, 'ingress' = 1, 'egress' = 2),
  ForwardingStatus UInt32,
  HostName LowCardinality(String),
  ProcessName LowCardinality(String),
  ProcessUser LowCardinality(String),
  Unit LowCardinality(String),
  Container LowCardinality(String),
  Bytes UInt64 CODEC(T64, LZ4),
  Packets UInt64 CODEC(T64, LZ4),
  Flows UInt64 CODEC(T64, LZ4)
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/hostflow/flows_1m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
PRIMARY KEY (TimeReceived, ExporterAddress, EType, Proto, InIf, SrcAS, ForwardingStatus, OutIf, DstAS, SamplingRate)
ORDER BY (TimeReceived, ExporterAddress, EType, Proto, InIf, SrcAS, ForwardingStatus, OutIf, DstAS, SamplingRate, SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, DstNetRegion, SrcNetTenant, DstNetTenant, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, FlowDirection, ProcessName, ProcessUser, Unit, Container)
TTL TimeReceived + toIntervalSecond(604800)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS hostflow.flows_1m ON CLUSTER flows AS hostflow.flows_1m_local ENGINE = Distributed(flows, hostflow, flows_1m_local, rand());

CREATE TABLE IF NOT EXISTS hostflow.flows_5m_local ON CLUSTER flows (
  TimeReceived DateTime CODEC(DoubleDelta, LZ4),
  SamplingRate UInt64,
  ExporterAddress IPv6,
  ExporterName LowCardinality(String),
  ExporterGroup LowCardinality(String),
  ExporterRole LowCardinality(String),
  ExporterSite LowCardinality(String),
  ExporterRegion LowCardinality(String),
  ExporterTenant LowCardinality(String),
  InIf UInt32,
  OutIf UInt32,
  InIfName LowCardinality(String),
  OutIfName LowCardinality(String),
  InIfDescription LowCardinality(String),
  OutIfDescription LowCardinality(String),
  InIfSpeed UInt32,
  OutIfSpeed UInt32,
  InIfConnectivity LowCardinality(String),
  OutIfConnectivity LowCardinality(String),
  InIfProvider LowCardinality(String),
  OutIfProvider LowCardinality(String),
  InIfBoundary Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
  OutIfBoundary Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
  InIfKind LowCardinality(String),
  OutIfKind LowCardinality(String),
  SrcAS UInt32,
  DstAS UInt32,
  SrcNetName LowCardinality(String),
  DstNetName LowCardinality(String),
  SrcNetRole LowCardinality(String),
  DstNetRole LowCardinality(String),
  SrcNetSite LowCardinality(String),
  DstNetSite LowCardinality(String),
  SrcNetRegion LowCardinality(String),
  DstNetRegion LowCardinality(String),
  SrcNetTenant LowCardinality(String),
  DstNetTenant LowCardinality(String),
  SrcCountry FixedString(2),
  DstCountry FixedString(2),
  SrcGeoCity LowCardinality(String),
  DstGeoCity LowCardinality(String),
  EType UInt32,
  Proto UInt32,
  FlowDirection Enum8('undefined' = 0, 'ingress' = 1, 'egress' = 2),
  ForwardingStatus UInt32,
  HostName LowCardinality(String),
  ProcessName LowCardinality(String),
  ProcessUser LowCardinality(String),
  Unit LowCardinality(String),
  Container LowCardinality(String),
  Bytes UInt64 CODEC(T64, LZ4),
  Packets UInt64 CODEC(T64, LZ4),
  Flows UInt64 CODEC(T64, LZ4)
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/hostflow/flows_5m_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMMDD(TimeReceived)
PRIMARY KEY (TimeReceived, ExporterAddress, EType, Proto, InIf, SrcAS, ForwardingStatus, OutIf, DstAS, SamplingRate)
ORDER BY (TimeReceived, ExporterAddress, EType, Proto, InIf, SrcAS, ForwardingStatus, OutIf, DstAS, SamplingRate, SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, DstNetRegion, SrcNetTenant, DstNetTenant, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, FlowDirection, ProcessName, ProcessUser, Unit, Container)
TTL TimeReceived + toIntervalSecond(7776000)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS hostflow.flows_5m ON CLUSTER flows AS hostflow.flows_5m_local ENGINE = Distributed(flows, hostflow, flows_5m_local, rand());

CREATE TABLE IF NOT EXISTS hostflow.flows_1h_local ON CLUSTER flows (
  TimeReceived DateTime CODEC(DoubleDelta, LZ4),
  SamplingRate UInt64,
  ExporterAddress IPv6,
  ExporterName LowCardinality(String),
  ExporterGroup LowCardinality(String),
  ExporterRole LowCardinality(String),
  ExporterSite LowCardinality(String),
  ExporterRegion LowCardinality(String),
  ExporterTenant LowCardinality(String),
  InIf UInt32,
  OutIf UInt32,
  InIfName LowCardinality(String),
  OutIfName LowCardinality(String),
  InIfDescription LowCardinality(String),
  OutIfDescription LowCardinality(String),
  InIfSpeed UInt32,
  OutIfSpeed UInt32,
  InIfConnectivity LowCardinality(String),
  OutIfConnectivity LowCardinality(String),
  InIfProvider LowCardinality(String),
  OutIfProvider LowCardinality(String),
  InIfBoundary Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
  OutIfBoundary Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
  InIfKind LowCardinality(String),
  OutIfKind LowCardinality(String),
  SrcAS UInt32,
  DstAS UInt32,
  SrcNetName LowCardinality(String),
  DstNetName LowCardinality(String),
  SrcNetRole LowCardinality(String),
  DstNetRole LowCardinality(String),
  SrcNetSite LowCardinality(String),
  DstNetSite LowCardinality(String),
  SrcNetRegion LowCardinality(String),
  DstNetRegion LowCardinality(String),
  SrcNetTenant LowCardinality(String),
  DstNetTenant LowCardinality(String),
  SrcCountry FixedString(2),
  DstCountry FixedString(2),
  SrcGeoCity LowCardinality(String),
  DstGeoCity LowCardinality(String),
  EType UInt32,
  Proto UInt32,
  FlowDirection Enum8('undefined' = 0, 'ingress' = 1, 'egress' = 2),
  ForwardingStatus UInt32,
  HostName LowCardinality(String),
  ProcessName LowCardinality(String),
  ProcessUser LowCardinality(String),
  Unit LowCardinality(String),
  Container LowCardinality(String),
  Bytes UInt64 CODEC(T64, LZ4),
  Packets UInt64 CODEC(T64, LZ4),
  Flows UInt64 CODEC(T64, LZ4)
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/hostflow/flows_1h_local', '{replica}', (Bytes, Packets, Flows))
PARTITION BY toYYYYMM(TimeReceived)
PRIMARY KEY (TimeReceived, ExporterAddress, EType, Proto, InIf, SrcAS, ForwardingStatus, OutIf, DstAS, SamplingRate)
ORDER BY (TimeReceived, ExporterAddress, EType, Proto, InIf, SrcAS, ForwardingStatus, OutIf, DstAS, SamplingRate, SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, DstNetRegion, SrcNetTenant, DstNetTenant, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, FlowDirection, ProcessName, ProcessUser, Unit, Container)
TTL TimeReceived + toIntervalSecond(31536000)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS hostflow.flows_1h ON CLUSTER flows AS hostflow.flows_1h_local ENGINE = Distributed(flows, hostflow, flows_1h_local, rand());

CREATE TABLE IF NOT EXISTS hostflow.interface_counters_local ON CLUSTER flows (
  TimeReceived DateTime CODEC(DoubleDelta, LZ4),
  ExporterAddress IPv6,
  ExporterName LowCardinality(String),
  SubAgentID UInt32,
  IfIndex UInt32,
  IfName LowCardinality(String),
  IfDescription LowCardinality(String),
  IfKind LowCardinality(String),
  IfType UInt32,
  IfSpeed UInt64 CODEC(T64, LZ4),
  IfDirection UInt32,
  IfStatus UInt32,
  InOctets UInt64 CODEC(T64, LZ4),
  InUcastPkts UInt64 CODEC(T64, LZ4),
  InMulticastPkts UInt64 CODEC(T64, LZ4),
  InBroadcastPkts UInt64 CODEC(T64, LZ4),
  InDiscards UInt64 CODEC(T64, LZ4),
  InErrors UInt64 CODEC(T64, LZ4),
  OutOctets UInt64 CODEC(T64, LZ4),
  OutUcastPkts UInt64 CODEC(T64, LZ4),
  OutMulticastPkts UInt64 CODEC(T64, LZ4),
  OutBroadcastPkts UInt64 CODEC(T64, LZ4),
  OutDiscards UInt64 CODEC(T64, LZ4),
  OutErrors UInt64 CODEC(T64, LZ4)
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/hostflow/interface_counters_local', '{replica}')
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (ExporterAddress, IfIndex, TimeReceived)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS hostflow.interface_counters ON CLUSTER flows AS hostflow.interface_counters_local ENGINE = Distributed(flows, hostflow, interface_counters_local, rand());

CREATE TABLE IF NOT EXISTS hostflow.host_counters_local ON CLUSTER flows (
  TimeReceived DateTime CODEC(DoubleDelta, LZ4),
  ExporterAddress IPv6,
  SubAgentID UInt32,
  HostName LowCardinality(String),
  MachineUUID LowCardinality(String),
  OSRelease LowCardinality(String),
  LoadOne Float32,
  LoadFive Float32,
  LoadFifteen Float32,
  ProcRun UInt32,
  ProcTotal UInt32,
  CPUNum UInt32,
  CPUSpeedMHz UInt32,
  UptimeSeconds UInt32,
  CPUUserMs UInt32,
  CPUNiceMs UInt32,
  CPUSystemMs UInt32,
  CPUIdleMs UInt32,
  CPUWioMs UInt32,
  CPUIntrMs UInt32,
  CPUSintrMs UInt32,
  CPUStealMs UInt32,
  MemTotal UInt64 CODEC(T64, LZ4),
  MemFree UInt64 CODEC(T64, LZ4),
  MemShared UInt64 CODEC(T64, LZ4),
  MemBuffers UInt64 CODEC(T64, LZ4),
  MemCached UInt64 CODEC(T64, LZ4),
  SwapTotal UInt64 CODEC(T64, LZ4),
  SwapFree UInt64 CODEC(T64, LZ4),
  DiskTotal UInt64 CODEC(T64, LZ4),
  DiskFree UInt64 CODEC(T64, LZ4),
  DiskPartMaxUsed UInt32,
  DiskReads UInt32,
  DiskWrites UInt32,
  DiskBytesRead UInt64 CODEC(T64, LZ4),
  DiskBytesWritten UInt64 CODEC(T64, LZ4),
  NetBytesIn UInt64 CODEC(T64, LZ4),
  NetBytesOut UInt64 CODEC(T64, LZ4),
  NetPktsIn UInt32,
  NetPktsOut UInt32,
  NetErrsIn UInt32,
  NetErrsOut UInt32,
  NetDropsIn UInt32,
  NetDropsOut UInt32,
  TCPCurrEstab UInt32,
  TCPRetransSegs UInt32,
  TCPInSegs UInt32,
  TCPOutSegs UInt32,
  TCPAttemptFails UInt32,
  TCPEstabResets UInt32,
  UDPInDatagrams UInt32,
  UDPOutDatagrams UInt32,
  UDPNoPorts UInt32,
  UDPInErrors UInt32,
  UDPRcvbufErrors UInt32
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/hostflow/host_counters_local', '{replica}')
PARTITION BY toYYYYMMDD(TimeReceived)
ORDER BY (HostName, ExporterAddress, TimeReceived)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS hostflow.host_counters ON CLUSTER flows AS hostflow.host_counters_local ENGINE = Distributed(flows, hostflow, host_counters_local, rand());

CREATE TABLE IF NOT EXISTS hostflow.exporters_local ON CLUSTER flows (
  TimeReceived DateTime,
  ExporterAddress IPv6,
  ExporterName LowCardinality(String),
  ExporterGroup LowCardinality(String),
  ExporterRole LowCardinality(String),
  ExporterSite LowCardinality(String),
  ExporterRegion LowCardinality(String),
  ExporterTenant LowCardinality(String)
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/hostflow/exporters_local', '{replica}', TimeReceived)
ORDER BY (ExporterAddress, ExporterName, ExporterGroup, ExporterRole, ExporterSite, ExporterRegion, ExporterTenant);

CREATE TABLE IF NOT EXISTS hostflow.exporters ON CLUSTER flows AS hostflow.exporters_local ENGINE = Distributed(flows, hostflow, exporters_local, rand());

CREATE TABLE IF NOT EXISTS hostflow.interfaces_local ON CLUSTER flows (
  TimeReceived DateTime,
  ExporterAddress IPv6,
  ExporterName LowCardinality(String),
  IfIndex UInt32,
  IfName LowCardinality(String),
  IfDescription LowCardinality(String),
  IfSpeed UInt32,
  IfConnectivity LowCardinality(String),
  IfProvider LowCardinality(String),
  IfBoundary Enum8('undefined' = 0, 'external' = 1, 'internal' = 2),
  IfKind LowCardinality(String)
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/hostflow/interfaces_local', '{replica}', TimeReceived)
ORDER BY (ExporterAddress, ExporterName, IfIndex, IfName, IfDescription, IfSpeed, IfConnectivity, IfProvider, IfBoundary, IfKind);

CREATE TABLE IF NOT EXISTS hostflow.interfaces ON CLUSTER flows AS hostflow.interfaces_local ENGINE = Distributed(flows, hostflow, interfaces_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS hostflow.flows_1m_mv_b4c9e91f ON CLUSTER flows TO hostflow.flows_1m_local AS SELECT toStartOfMinute(TimeReceived) AS TimeReceived, SamplingRate, ExporterAddress, any(ExporterName) AS ExporterName, any(ExporterGroup) AS ExporterGroup, any(ExporterRole) AS ExporterRole, any(ExporterSite) AS ExporterSite, any(ExporterRegion) AS ExporterRegion, any(ExporterTenant) AS ExporterTenant, InIf, OutIf, any(InIfName) AS InIfName, any(OutIfName) AS OutIfName, any(InIfDescription) AS InIfDescription, any(OutIfDescription) AS OutIfDescription, any(InIfSpeed) AS InIfSpeed, any(OutIfSpeed) AS OutIfSpeed, any(InIfConnectivity) AS InIfConnectivity, any(OutIfConnectivity) AS OutIfConnectivity, any(InIfProvider) AS InIfProvider, any(OutIfProvider) AS OutIfProvider, any(InIfBoundary) AS InIfBoundary, any(OutIfBoundary) AS OutIfBoundary, any(InIfKind) AS InIfKind, any(OutIfKind) AS OutIfKind, SrcAS, DstAS, SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, DstNetRegion, SrcNetTenant, DstNetTenant, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, EType, Proto, FlowDirection, ForwardingStatus, any(HostName) AS HostName, ProcessName, ProcessUser, Unit, Container, sum(Bytes) AS Bytes, sum(Packets) AS Packets, count() AS Flows FROM hostflow.flows_local GROUP BY TimeReceived, SamplingRate, ExporterAddress, InIf, OutIf, SrcAS, DstAS, SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, DstNetRegion, SrcNetTenant, DstNetTenant, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, EType, Proto, FlowDirection, ForwardingStatus, ProcessName, ProcessUser, Unit, Container;

CREATE MATERIALIZED VIEW IF NOT EXISTS hostflow.flows_5m_mv_6adff494 ON CLUSTER flows TO hostflow.flows_5m_local AS SELECT toStartOfFiveMinutes(TimeReceived) AS TimeReceived, SamplingRate, ExporterAddress, any(ExporterName) AS ExporterName, any(ExporterGroup) AS ExporterGroup, any(ExporterRole) AS ExporterRole, any(ExporterSite) AS ExporterSite, any(ExporterRegion) AS ExporterRegion, any(ExporterTenant) AS ExporterTenant, InIf, OutIf, any(InIfName) AS InIfName, any(OutIfName) AS OutIfName, any(InIfDescription) AS InIfDescription, any(OutIfDescription) AS OutIfDescription, any(InIfSpeed) AS InIfSpeed, any(OutIfSpeed) AS OutIfSpeed, any(InIfConnectivity) AS InIfConnectivity, any(OutIfConnectivity) AS OutIfConnectivity, any(InIfProvider) AS InIfProvider, any(OutIfProvider) AS OutIfProvider, any(InIfBoundary) AS InIfBoundary, any(OutIfBoundary) AS OutIfBoundary, any(InIfKind) AS InIfKind, any(OutIfKind) AS OutIfKind, SrcAS, DstAS, SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, DstNetRegion, SrcNetTenant, DstNetTenant, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, EType, Proto, FlowDirection, ForwardingStatus, any(HostName) AS HostName, ProcessName, ProcessUser, Unit, Container, sum(Bytes) AS Bytes, sum(Packets) AS Packets, sum(Flows) AS Flows FROM hostflow.flows_1m_local GROUP BY TimeReceived, SamplingRate, ExporterAddress, InIf, OutIf, SrcAS, DstAS, SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, DstNetRegion, SrcNetTenant, DstNetTenant, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, EType, Proto, FlowDirection, ForwardingStatus, ProcessName, ProcessUser, Unit, Container;

CREATE MATERIALIZED VIEW IF NOT EXISTS hostflow.flows_1h_mv_25874d1c ON CLUSTER flows TO hostflow.flows_1h_local AS SELECT toStartOfHour(TimeReceived) AS TimeReceived, SamplingRate, ExporterAddress, any(ExporterName) AS ExporterName, any(ExporterGroup) AS ExporterGroup, any(ExporterRole) AS ExporterRole, any(ExporterSite) AS ExporterSite, any(ExporterRegion) AS ExporterRegion, any(ExporterTenant) AS ExporterTenant, InIf, OutIf, any(InIfName) AS InIfName, any(OutIfName) AS OutIfName, any(InIfDescription) AS InIfDescription, any(OutIfDescription) AS OutIfDescription, any(InIfSpeed) AS InIfSpeed, any(OutIfSpeed) AS OutIfSpeed, any(InIfConnectivity) AS InIfConnectivity, any(OutIfConnectivity) AS OutIfConnectivity, any(InIfProvider) AS InIfProvider, any(OutIfProvider) AS OutIfProvider, any(InIfBoundary) AS InIfBoundary, any(OutIfBoundary) AS OutIfBoundary, any(InIfKind) AS InIfKind, any(OutIfKind) AS OutIfKind, SrcAS, DstAS, SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, DstNetRegion, SrcNetTenant, DstNetTenant, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, EType, Proto, FlowDirection, ForwardingStatus, any(HostName) AS HostName, ProcessName, ProcessUser, Unit, Container, sum(Bytes) AS Bytes, sum(Packets) AS Packets, sum(Flows) AS Flows FROM hostflow.flows_5m_local GROUP BY TimeReceived, SamplingRate, ExporterAddress, InIf, OutIf, SrcAS, DstAS, SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, DstNetRegion, SrcNetTenant, DstNetTenant, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, EType, Proto, FlowDirection, ForwardingStatus, ProcessName, ProcessUser, Unit, Container;
